"""Read queries the console needs and no core service offers yet.

Each returns plain rows for one screen; none changes anything. Pages are read with
``LIMIT page_size + 1`` — one row more tells whether a next page exists, without
counting a million rows on every view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.db.models.functions import Lower, Trim, TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Profile
from envoi.bounces.models import Quarantine, QuarantineStatus
from envoi.deliveries.lifecycle import SENDING_STATES
from envoi.deliveries.models import Delivery, PreparationMessage, Status
from envoi.preparation.models import ExclusionLog
from envoi.reporting.kpis import Counts, add_sending_counts
from envoi.reporting.models import DeliveryKpis
from envoi.sending.models import OutboxMessage, SendingLog
from envoi.tracking.models import TrackingEvent

PAGE_SIZE = 50
MAX_PAGE = 100_000


@dataclass
class Page:
    rows: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_number(raw: str | None) -> int:
    """The page asked for, clamped to what the pager offers (bad input means page 1)."""
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def page_of(rows: QuerySet, number: int, size: int = PAGE_SIZE) -> Page:
    start = (number - 1) * size
    found = list(rows[start:start + size + 1])
    return Page(found[:size], number, len(found) > size)


# Deliveries ---------------------------------------------------------------------------


# What the deliveries list shows: by default neither archived deliveries nor the
# executions of recurring ones (listed under their parent).
LIST_SHOWS = ("", "executions", "archived")


def deliveries(status: str = "", search: str = "", show: str = "") -> QuerySet[Delivery]:
    """Newest first; ``search`` matches the label, ``status`` the lifecycle status,
    ``show`` one of :data:`LIST_SHOWS`."""
    found = Delivery.objects.select_related("recurrence").order_by("-id")
    if show == "archived":
        found = found.filter(archived_at__isnull=False)
    else:
        found = found.filter(archived_at__isnull=True)
    if show != "executions":
        found = found.filter(parent__isnull=True)
    if status:
        found = found.filter(status=status)
    if search:
        found = found.filter(label__icontains=search)
    return found


def execution_counts(listed: list[Delivery]) -> dict[int, int]:
    """How many executions each listed delivery has (0 for a one-shot delivery)."""
    rows = (Delivery.objects.filter(parent_id__in=[d.pk for d in listed]).order_by()
            .values_list("parent_id").annotate(n=Count("*")))
    return dict(rows)  # type: ignore[arg-type]


def sent_counts(listed: list[Delivery]) -> dict[int, int]:
    """Messages sent (delivered + failed) of each listed delivery.

    Read live from the sending log for deliveries still sending; a delivery that has
    ended and whose KPIs were computed since shows those (the sending log of a big
    finished delivery is a million rows to count on every view of the list); one never
    started has sent nothing."""
    rows = DeliveryKpis.objects.filter(delivery_id__in=[d.pk for d in listed])
    stored: dict[int, tuple[dict[str, Any], datetime]] = {
        pk: (values, at) for pk, values, at in
        rows.values_list("delivery_id", "values", "computed_at")}
    sent: dict[int, int] = {}
    live: dict[int, Counts] = {}
    for delivery in listed:
        values, computed_at = stored.get(delivery.pk, ({}, None))
        ended = delivery.finished_at if delivery.status not in SENDING_STATES else None
        if delivery.started_at is None:
            sent[delivery.pk] = 0
        elif ended is not None and computed_at is not None and computed_at >= ended:
            sent[delivery.pk] = int(values.get("sent", 0))
        else:
            live[delivery.pk] = Counts()
    add_sending_counts(live)
    return sent | {pk: counts.sent for pk, counts in live.items()}


def sending_log(delivery_id: int, status: str = "", reason: str = "") -> QuerySet:
    rows = SendingLog.objects.filter(delivery_id=delivery_id).order_by("id")
    if status:
        rows = rows.filter(status=status)
    if reason:
        rows = rows.filter(failure_reason=reason)
    return rows.values("id", "profile_id", "address", "status", "failure_type",
                       "failure_reason", "smtp_reply", "attempts", "sent_at")


def exclusion_log(delivery_id: int, reason: str = "") -> QuerySet:
    rows = ExclusionLog.objects.filter(delivery_id=delivery_id).order_by("id")
    if reason:
        rows = rows.filter(reason=reason)
    return rows.values("id", "profile_id", "address", "reason")


def tracking_log(delivery_id: int, kind: str = "") -> QuerySet:
    rows = TrackingEvent.objects.filter(delivery_id=delivery_id).order_by("-id")
    if kind:
        rows = rows.filter(kind=kind)
    return rows.values("id", "profile_id", "row_id", "kind", "url", "at", "machine")


def preparation_log(delivery_id: int) -> list[PreparationMessage]:
    """Errors first, then warnings, each in the order found."""
    found = PreparationMessage.objects.filter(delivery_id=delivery_id)
    return sorted(found, key=lambda m: (m.level != PreparationMessage.ERROR, m.pk))


# Charts -------------------------------------------------------------------------------
#
# One GROUP BY per chart, on a time grain chosen from the delivery's own dates — no
# extra pass over a million rows to find the first and last moments.


def _grain(first: datetime | None, last: datetime | None) -> tuple[Any, timedelta]:
    """A time grain that shows a span in a few dozen bars at most."""
    span = (last - first) if first and last else timedelta(0)
    if span <= timedelta(hours=2):
        return TruncMinute, timedelta(minutes=1)
    if span <= timedelta(days=3):
        return TruncHour, timedelta(hours=1)
    return TruncDay, timedelta(days=1)


def _series(rows: QuerySet, column: str, trunc: Any, split: str | None,
            names: dict[str, str]) -> dict[str, dict[datetime, int]]:
    """Counts of ``rows`` per time bucket of ``column`` (and per value of ``split``,
    renamed through ``names``)."""
    keys = ["bucket", split] if split else ["bucket"]
    grouped = rows.order_by().annotate(bucket=trunc(column)).values(*keys).annotate(n=Count("*"))
    series: dict[str, dict[datetime, int]] = {name: {} for name in names.values()}
    for row in grouped:
        name = names.get(row[split]) if split else next(iter(names.values()))
        if name is not None:
            series[name][row["bucket"]] = row["n"]
    return series


def throughput(delivery: Delivery) -> tuple[timedelta, dict]:
    """Messages handed to the relay per minute (or hour, or day) of the sending.

    Once a delivery has finished its throughput can no longer change (a message's
    ``sent_at`` is written once), so each server process computes it once — it reads
    every row of the delivery — and keeps it, per zone the buckets were cut in."""
    zone = timezone.get_current_timezone_name()
    ended = delivery.finished_at.timestamp() if delivery.finished_at else 0
    key = f"envoi-throughput-{delivery.pk}-{ended}-{zone.replace('/', '.')}"
    final = delivery.status == Status.FINISHED
    if final and (kept := cache.get(key)) is not None:
        return kept
    trunc, step = _grain(delivery.started_at, delivery.finished_at or timezone.now())
    rows = SendingLog.objects.filter(delivery_id=delivery.pk, sent_at__isnull=False)
    found = step, _series(rows, "sent_at", trunc, None, {"sent": "sent"})
    if final:
        cache.set(key, found, timeout=24 * 3600)
    return found


def engagement_over_time(delivery: Delivery) -> tuple[timedelta, dict]:
    """Open and click events per time bucket, since sending started."""
    trunc, step = _grain(delivery.started_at, timezone.now())
    rows = TrackingEvent.objects.filter(delivery_id=delivery.pk, kind__in=["open", "click"])
    return step, _series(rows, "at", trunc, "kind", {"open": "opens", "click": "clicks"})


def failures_by_reason(delivery_id: int) -> list[tuple[str, str, int]]:
    """(failure type, reason, count) of the delivery's failed messages."""
    rows = (SendingLog.objects.filter(delivery_id=delivery_id, status="failed").order_by()
            .values_list("failure_type", "failure_reason").annotate(n=Count("*")))
    return list(rows)


# Profiles, audit, outbox --------------------------------------------------------------


def search_profiles(text: str) -> QuerySet[Profile]:
    """Profiles by id, exact address (indexed, any case), or name, address or phone
    fragment; newest first."""
    text = text.strip()
    profiles = Profile.objects.order_by("-id")
    if not text:
        return profiles
    if text.isdigit():
        return profiles.filter(pk=int(text)) if int(text) < 2**63 else profiles.none()
    if "@" in text:
        exact = (profiles.annotate(email_key=Lower(Trim("email")))
                 .filter(email_key=text.lower()))
        if exact.exists():
            return exact
        return profiles.filter(email__icontains=text)
    from django.db.models import Q

    found = (Q(first_name__icontains=text) | Q(last_name__icontains=text)
             | Q(email__icontains=text) | Q(phone__icontains=text))
    words = text.split()
    if len(words) == 2:  # a full name, in either order ("박 유나", "Ada Lovelace")
        one, other = words
        found |= (Q(first_name__icontains=one, last_name__icontains=other)
                  | Q(last_name__icontains=one, first_name__icontains=other))
    return profiles.filter(found)


def audit_entries(action: str = "", actor: str = "", delivery: str = "") -> QuerySet:
    entries = AuditEntry.objects.order_by("-id")
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_name=actor)
    if delivery.isdigit() and int(delivery) < 2**63:
        entries = entries.filter(delivery_id=int(delivery))
    return entries


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True)
                .distinct()[:200])


def outbox_messages() -> QuerySet:
    return OutboxMessage.objects.order_by("-id").values(
        "id", "received_at", "mail_from", "rcpt_to", "subject")


# Quarantine ---------------------------------------------------------------------------


def quarantine_entries(status: str = "", reason: str = "", search: str = "") -> QuerySet:
    """Addresses by latest change, as the API lists them: those with a standing other
    than valid, or those of ``status``. A search by address finds an address whatever
    its standing (an exact address first: the unique index answers it)."""
    rows = Quarantine.objects.all()
    if status:
        rows = rows.filter(status=status)
    elif not search:
        rows = rows.exclude(status=QuarantineStatus.VALID)
    if reason:
        rows = rows.filter(reason=reason)
    search = search.strip().lower()
    if search:
        exact = rows.filter(channel="email", address=search)
        rows = exact if "@" in search and exact.exists() else rows.filter(
            address__contains=search)
    return rows.order_by("-updated_at", "-id")


def deliveries_of_rows(row_ids: list[int]) -> dict[int, int]:
    """The delivery of each sending-log row named (rows of deleted deliveries are gone)."""
    found = SendingLog.objects.filter(id__in=[row for row in row_ids if row])
    return dict(found.values_list("id", "delivery_id"))
