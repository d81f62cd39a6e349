"""The sending log as a work queue: claim rows under a lease, record their outcome.

A row moves ``pending`` → terminal exactly once: outcomes are written with
``WHERE status = 'pending'``, so a late writer (a worker whose lease ran out while it
was still sending) cannot overwrite the first result. On PostgreSQL, ``SKIP LOCKED``
lets any number of workers claim side by side; SQLite serializes writers anyway.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction

from envoi.deliveries.models import Delivery, Status
from envoi.sending.models import SendStatus
from envoi.sql import among


# Named tuples, not frozen dataclasses: a worker makes two of these per message.
class ClaimedRow(NamedTuple):
    id: int
    delivery_id: int
    profile_id: int
    address: str
    attempts: int
    variant: str = ""  # the language variant it is sent in ('': the default)


class Outcome(NamedTuple):
    row_id: int
    status: str  # sent, failed, or pending (to be retried at next_attempt_at)
    failure_type: str = ""
    failure_reason: str = ""
    smtp_reply: str = ""
    message_id: str = ""
    next_attempt_at: datetime | None = None


_PICK = """
SELECT id FROM sending_sendinglog
WHERE delivery_id = %s AND status = 'pending' AND id BETWEEN %s AND %s
  AND (lease_until IS NULL OR lease_until < %s)
  AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
ORDER BY id LIMIT %s"""

_CLAIM_SET = ("UPDATE sending_sendinglog SET lease_until = %s, claimed_by = %s, "
              "attempts = attempts + 1 WHERE id BETWEEN %s AND %s")
_CLAIMED = "RETURNING id, delivery_id, profile_id, address, attempts, variant"

_CLAIM = {
    "postgresql": f"{_CLAIM_SET} AND id = ANY(ARRAY({_PICK} FOR UPDATE SKIP LOCKED)) {_CLAIMED}",
    "sqlite": f"{_CLAIM_SET} AND id IN ({_PICK}) {_CLAIMED}",
}
"""The id bounds, on both scans, let PostgreSQL plan the claim over the partitions that
hold the delivery's rows only (envoi.sending.partitions): parameters are sent inlined
(psycopg's client-side binding), so the planner sees them as constants. The rows are
picked first (an init plan) and then updated by primary key: as ``id IN (…)`` the
planner, seeing the bounds span the whole delivery, may hash-join the picked rows
against every row of the span (11 ms instead of 2 ms a claim on a 20,000-row span, and
growing with it; docs/BENCHMARKS.md)."""

# PostgreSQL: the whole batch in one statement, its columns passed as arrays.
_RECORD_BATCH = """
UPDATE sending_sendinglog AS s
SET status = o.status, failure_type = o.failure_type, failure_reason = o.failure_reason,
    smtp_reply = o.smtp_reply, message_id = o.message_id,
    provider_message_id = o.provider_message_id, next_attempt_at = o.next_attempt_at,
    sent_at = CASE WHEN o.status = 'sent' THEN %s::timestamptz END, updated_at = %s,
    lease_until = NULL
FROM json_to_recordset(%s::json)
    AS o(id bigint, status text, failure_type text, failure_reason text, smtp_reply text,
         message_id text, provider_message_id text, next_attempt_at timestamptz)
WHERE s.id = o.id AND s.status = 'pending' AND s.id BETWEEN %s AND %s
"""
"""The batch travels as one JSON text: the C encoder writes it in a fifth of the client
CPU that psycopg takes to adapt eight arrays of 200 values (0.5 against 2.4 ms a batch,
measured), and the update takes half as long. The bounds are the batch's own lowest
and highest ids: the update is planned over the partition or two that hold them."""

# SQLite runs in-process, where one prepared statement per row is as fast.
_RECORD = """
UPDATE sending_sendinglog
SET status = %s, failure_type = %s, failure_reason = %s, smtp_reply = %s, message_id = %s,
    provider_message_id = %s, next_attempt_at = %s, sent_at = %s, updated_at = %s,
    lease_until = NULL
WHERE id = %s AND status = 'pending'
"""


LAST_ID = (1 << 63) - 1  # the largest id: no upper bound


class LogSpan(NamedTuple):
    """Where a delivery's sending-log rows lie: every id is between ``first`` and
    ``last`` (:attr:`Delivery.log_first_id`); None where it is not known."""
    first: int | None = None
    last: int | None = None


UNKNOWN_SPAN = LogSpan()


class SendingDelivery(NamedTuple):
    id: int
    rate_limit: int
    channel: str
    span: LogSpan


def sending_deliveries() -> list[SendingDelivery]:
    """The deliveries in progress that have rows: a running recurring delivery sends
    through its executions, never itself."""
    found = (Delivery.objects.filter(status=Status.IN_PROGRESS, recurrence__isnull=True)
             .order_by("id")
             .values_list("id", "rate_limit", "channel", "log_first_id", "log_last_id"))
    return [SendingDelivery(pk, rate, channel, LogSpan(first, last))
            for pk, rate, channel, first, last in found]


def widen_span(cursor, delivery_id: int) -> None:
    """Make the delivery's span cover its pending rows, after preparation wrote some
    (in the same transaction). The queue index answers both ends."""
    cursor.execute("SELECT MIN(id), MAX(id) FROM sending_sendinglog "
                   "WHERE delivery_id = %s AND status = 'pending'", [delivery_id])
    low, high = cursor.fetchone()
    if low is not None:
        cursor.execute(
            "UPDATE deliveries_delivery SET log_first_id = CASE WHEN log_first_id IS NULL "
            "OR log_first_id > %s THEN %s ELSE log_first_id END, log_last_id = CASE WHEN "
            "log_last_id IS NULL OR log_last_id < %s THEN %s ELSE log_last_id END "
            "WHERE id = %s", [low, low, high, high, delivery_id])


def defer(row_ids: list[int]) -> None:
    """Give back claimed rows unsent (over a rate limit): no attempt is counted."""
    if row_ids:
        condition, params = among("id", row_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE sending_sendinglog SET lease_until = NULL, claimed_by = '', "
                f"attempts = attempts - 1 WHERE status = 'pending' AND {condition}", params)


def claim(delivery_id: int, worker_id: str, limit: int, now: datetime, lease: timedelta,
          after_id: int = 0, span: LogSpan = UNKNOWN_SPAN) -> list[ClaimedRow]:
    """Up to ``limit`` due rows of the delivery, lowest ids first, past ``after_id``
    and within the delivery's ``span``.

    Sent rows leave the pending index only as dead entries until a vacuum, so a scan
    from the first row walks over everything sent so far: each claim would cost in
    proportion to the delivery's progress. Starting past the last row claimed keeps a
    claim at the size of its batch (:class:`ClaimCursor`).
    """
    low, high = max(after_id + 1, span.first or 0), span.last or LAST_ID
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM[connection.vendor], [now + lease, worker_id, low, high,
                                                   delivery_id, low, high, now, now, limit])
        rows = [ClaimedRow(*row) for row in cursor.fetchall()]
    rows.sort(key=lambda row: row.id)
    return rows


class ClaimCursor:
    """Where a worker's next claim starts, per delivery: past the last row it claimed.

    When nothing is left past it (the end of the log), the next claim starts again from
    the first row, so rows left behind — due retries, rows whose lease expired after a
    crash, rows given back over a rate limit — are taken once the rest is done; that
    one claim walks the whole log, once per pass instead of once per batch.
    """

    def __init__(self) -> None:
        self._after: dict[int, int] = {}

    def claim(self, delivery_id: int, worker_id: str, limit: int, now: datetime,
              lease: timedelta, span: LogSpan = UNKNOWN_SPAN) -> list[ClaimedRow]:
        after = self._after.get(delivery_id, 0)
        rows = claim(delivery_id, worker_id, limit, now, lease, after, span)
        if not rows and after:
            rows = claim(delivery_id, worker_id, limit, now, lease, span=span)
        self._after[delivery_id] = rows[-1].id if rows else 0
        return rows


def record(outcomes: list[Outcome], now: datetime) -> None:
    """Write a batch of outcomes in one transaction."""
    if not outcomes:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids = [o.row_id for o in outcomes]
            cursor.execute(_RECORD_BATCH, [now, now, json.dumps([_as_json(o) for o in outcomes]),
                                           min(ids), max(ids)])
        else:
            cursor.executemany(_RECORD, [
                (o.status, o.failure_type, o.failure_reason, o.smtp_reply[:500], o.message_id,
                 provider_message_id(o), o.next_attempt_at,
                 now if o.status == SendStatus.SENT else None, now, o.row_id)
                for o in outcomes])


def _as_json(outcome: Outcome) -> dict[str, object]:
    retry_at = outcome.next_attempt_at
    return {"id": outcome.row_id, "status": outcome.status,
            "failure_type": outcome.failure_type, "failure_reason": outcome.failure_reason,
            "smtp_reply": outcome.smtp_reply[:500], "message_id": outcome.message_id,
            "provider_message_id": provider_message_id(outcome),
            "next_attempt_at": retry_at.isoformat() if retry_at else None}


# The relay's id of an accepted message in its 250 reply: "250 2.0.0 Ok: queued as
# 4Fq2Zk" (Postfix, SendGrid, Postmark), "250 Ok 0102018d...-000000" (Amazon SES).
_QUEUED_AS = re.compile(r"queued as <?([\w.@-]{4,200})>?")
_OK_ID = re.compile(r"^250[ -](?:2\.\d{1,3}\.\d{1,3} )?ok <?([\w.@-]{8,200})>?$", re.I)


def provider_message_id(outcome: Outcome) -> str | None:
    if outcome.status != "sent" or not outcome.smtp_reply:
        return None
    found = _QUEUED_AS.search(outcome.smtp_reply) or _OK_ID.match(outcome.smtp_reply.strip())
    return found.group(1) if found else None


def has_due_work(now: datetime) -> bool:
    """Rows a worker could send now or once a lease runs out (not those awaiting a retry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sending_sendinglog s JOIN deliveries_delivery d "
            "ON d.id = s.delivery_id WHERE d.status = %s AND s.status = 'pending' "
            "AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= %s) LIMIT 1",
            [Status.IN_PROGRESS.value, now],
        )
        return cursor.fetchone() is not None


VALIDITY_EXPIRED = "validity_expired"


def expire_overdue(now: datetime) -> list[int]:
    """Fail the rows still pending when their delivery's validity period has ended
    (SPEC §4), except those a worker holds; the ids of the deliveries concerned."""
    overdue = list(Delivery.objects.filter(
        status__in=[Status.IN_PROGRESS, Status.PAUSED], valid_until__lt=now)
        .values_list("id", flat=True))
    if not overdue:
        return []
    with connection.cursor() as cursor:
        for delivery_id in overdue:
            cursor.execute(
                "UPDATE sending_sendinglog SET status = 'failed', failure_type = 'soft', "
                "failure_reason = %s, updated_at = %s, lease_until = NULL "
                "WHERE delivery_id = %s AND status = 'pending' "
                "AND (lease_until IS NULL OR lease_until < %s)",
                [VALIDITY_EXPIRED, now, delivery_id, now])
    return overdue


def release_stopped(now: datetime) -> int:
    """Rows of stopped deliveries that no worker holds become ``ignored`` (final)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sending_sendinglog SET status = 'ignored', failure_type = 'ignored', "
            "failure_reason = 'delivery_stopped', updated_at = %s "
            "WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < %s) "
            "AND delivery_id IN (SELECT id FROM deliveries_delivery WHERE status = %s)",
            [now, now, Status.STOPPED.value],
        )
        return cursor.rowcount
