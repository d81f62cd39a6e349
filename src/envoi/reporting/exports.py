"""CSV exports: profiles (of an audience or all), a delivery's sending, exclusion and
tracking logs, and the KPIs of a set of deliveries.

Guarantees:

- **Bounded memory at any size.** Rows are read in keyset pages (``id > last ORDER BY id
  LIMIT`` :data:`PAGE_SIZE`), each page a short query of its own, and written out as they
  come. No cursor stays open between pages, so the same code streams under WSGI and ASGI
  (:func:`streaming_response` hands ASGI an async iterator: Django would otherwise read a
  synchronous one whole into memory before sending it).
- **Cells safe in spreadsheets.** A text cell that starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return is prefixed with ``'`` (OWASP's advice on CSV injection), so
  Excel, LibreOffice and Google Sheets show it as text instead of running it as a formula.
  Numbers and dates are written as they are.
- **Permission and audit first.** Each export checks its permission (``profile.export``
  or ``logs.export``, the ``export`` role) and is audited before the first row is read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import HttpRequest, StreamingHttpResponse

from envoi.accounts.services import Actor, audit, require
from envoi.audiences.filters import compile_filter
from envoi.audiences.models import Audience
from envoi.consent.models import UnsubscribeReason
from envoi.consent.services import unsubscribe_reasons
from envoi.reporting.kpis import ENGAGEMENT_COUNTS, gather_counts, kpis_of

PAGE_SIZE = 5000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Export:
    """A named CSV: its file name, its header, and its rows, page by page."""

    filename: str
    header: Sequence[str]
    pages: Iterator[list[tuple]]

    def lines(self) -> Iterator[str]:
        """The CSV text, one page of rows at a time."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.header)
        yield _drain(buffer)
        for page in self.pages:
            writer.writerows([safe_cell(value) for value in row] for row in page)
            yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should read it: text that a spreadsheet would take for a
    formula gets a leading apostrophe; JSON objects become JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# Keyset pages ---------------------------------------------------------------------------


def _pages(select: str, params: list[Any], after: Callable[[tuple], int],
           page_size: int) -> Iterator[list[tuple]]:
    """Run ``select`` (which takes the last id seen and a limit as its two last
    parameters, and orders by id) page after page until a short page."""
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(select, [*params, last, page_size])
            page = cursor.fetchall()
        if page:
            yield page
            last = after(page[-1])
        if len(page) < page_size:
            return


PROFILE_COLUMNS = ("id", "external_id", "email", "phone", "first_name", "last_name",
                   "language", "timezone", "email_opt_out", "sms_opt_out", "is_test",
                   "attributes", "created_at", "updated_at")  # fmt: skip


def profiles(user: Actor, audience: Audience | None = None,
             page_size: int = PAGE_SIZE) -> Export:
    """Every profile, or those the audience selects (a saved filter or a static list)."""
    require(user, "profile.export")
    audit(user, "profile.export", audience=audience.pk if audience else None)
    columns = ", ".join(f"p.{name}" for name in PROFILE_COLUMNS)
    where, params = "TRUE", []
    if audience is not None and audience.kind == Audience.LIST:
        where = ("p.id IN (SELECT m.profile_id FROM audiences_audiencemember m "
                 "WHERE m.audience_id = %s)")
        params = [audience.pk]
    elif audience is not None:
        compiled = compile_filter(audience.filter, connection.vendor, alias="p")
        where, params = f"({compiled.sql})", list(compiled.params)
    select = (f"SELECT {columns} FROM audiences_profile p WHERE {where} "  # noqa: S608
              "AND p.id > %s ORDER BY p.id LIMIT %s")
    name = f"profiles-audience-{audience.pk}.csv" if audience else "profiles.csv"
    pages = _pages(select, params, lambda row: row[0], page_size)
    return Export(name, PROFILE_COLUMNS, _with_json_attributes(pages))


def _with_json_attributes(pages: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    """SQLite hands JSON back as text and PostgreSQL as objects: both become JSON text."""
    index = PROFILE_COLUMNS.index("attributes")
    for page in pages:
        yield [(*row[:index], row[index] if isinstance(row[index], str)
                else json.dumps(row[index], ensure_ascii=False), *row[index + 1:])
               for row in page]


LOGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sending-log": ("sending_sendinglog", (
        "id", "profile_id", "address", "status", "failure_type", "failure_reason",
        "smtp_reply", "attempts", "message_id", "variant", "sent_at", "updated_at")),
    "exclusion-log": ("preparation_exclusionlog", ("id", "profile_id", "address", "reason")),
    "tracking-log": ("tracking_trackingevent", (
        "id", "row_id", "profile_id", "kind", "link_index", "url", "at", "user_agent",
        "machine")),
}  # fmt: skip


def delivery_log(user: Actor, delivery_id: int, log: str,
                 page_size: int = PAGE_SIZE) -> Export:
    """One of a delivery's logs (:data:`LOGS`), in id order. The caller has checked that
    the delivery exists after :func:`require_log_export`."""
    table, columns = LOGS[log]
    audit(user, "logs.export", delivery_id=delivery_id, log=log)
    select = (f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608
              "WHERE delivery_id = %s AND id > %s ORDER BY id LIMIT %s")
    return Export(f"delivery-{delivery_id}-{log}.csv", columns,
                  _pages(select, [delivery_id], lambda row: row[0], page_size))


def require_log_export(user: Actor, delivery_id: int | None = None) -> None:
    require(user, "logs.export", delivery_id=delivery_id)


KPI_COLUMNS = ("delivery_id", "label", "status", "to_deliver", "sent", "sent_rate",
               "delivered", "delivered_rate", "failed", "failed_rate", "pending", "ignored",
               *ENGAGEMENT_COUNTS, "open_rate", "open_rate_human", "click_rate",
               "click_rate_human")  # fmt: skip
# Then one column per unsubscribe reason: "unsubscribe_too_many", … "unsubscribe_none".
REASON_COLUMNS = tuple(f"unsubscribe_{reason}" for reason in UnsubscribeReason.values)


def delivery_kpis(user: Actor, delivery_ids: Sequence[int]) -> Export:
    """One row per delivery: its label, status and KPIs as the dashboard shows them."""
    from envoi.deliveries.models import Delivery

    require_log_export(user)
    audit(user, "logs.export", log="kpis", deliveries=list(delivery_ids))
    counts = gather_counts(delivery_ids)
    reasons = unsubscribe_reasons(list(delivery_ids))
    rows = []
    for delivery in Delivery.objects.filter(pk__in=list(delivery_ids)).order_by("pk"):
        kpis = kpis_of(counts[delivery.pk]) if delivery.pk in counts else {}
        given = reasons.get(delivery.pk, {})
        rows.append((delivery.pk, delivery.label, delivery.status,
                     *(kpis.get(name, "") for name in KPI_COLUMNS[3:]),
                     *(given.get(reason, 0) for reason in UnsubscribeReason.values)))
    return Export("deliveries-kpis.csv", KPI_COLUMNS + REASON_COLUMNS, iter([rows]))


# HTTP -----------------------------------------------------------------------------------


def streaming_response(request: HttpRequest, export: Export) -> StreamingHttpResponse:
    """The export as a download that streams under both WSGI and ASGI."""
    lines = export.lines()
    content: Iterator[str] | AsyncIterator[str] = (
        _async_lines(lines) if isinstance(request, ASGIRequest) else lines)
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


async def _async_lines(lines: Iterator[str]) -> AsyncIterator[str]:
    """Each page is read in Django's sync thread (where the connection lives), one at a
    time, so the server sends a page before the next is read."""
    done = object()
    read = sync_to_async(lambda: next(lines, done), thread_sensitive=True)
    while (chunk := await read()) is not done:
        yield chunk  # type: ignore[misc]
