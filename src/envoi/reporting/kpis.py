"""The Deployment KPIs of a delivery (SPEC §6): every definition lives here, once.

Counts, all exact and read from the logs:

* from the sending log (one row per message):
  ``delivered`` = rows whose status is ``sent`` (accepted by the relay, and no bounce
  has said otherwise since) or ``delivered``; ``failed`` = rows whose status is
  ``failed`` (refused by the relay, bounced, or expired); ``sent`` = delivered + failed,
  the messages handed to the relay and processed. ``pending`` rows (queued, or awaiting
  a retry) and ``ignored`` rows (dropped by a stop) are counted apart and are in none
  of the rates. ``failures_by_type`` and ``failures_by_reason`` split the failed rows
  (hard, soft, ignored × reason) and sum to ``failed``; a soft failure awaiting its
  retry is still pending, not a failure.
* from ``MessageEngagement`` (one row per message that drew at least one event, see
  :mod:`envoi.tracking.ingest`): ``opens``, ``clicks``, ``mirror_views`` and
  ``unsubscriptions`` count *distinct messages*, never events. A click, mirror view or
  unsubscribe also counts as an open. An event proves its message arrived, so opens
  are counted over every message of the delivery whatever its status.

Rates are fractions in [0, 1] (the console multiplies by 100), unrounded, and **0.0
when the denominator is zero** (nothing sent yet: no rate to show). Each engagement
rate comes twice: ``open_rate`` counts every event, ``open_rate_human`` leaves out the
events flagged ``machine`` (privacy prefetchers, link scanners); same for clicks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from envoi import clock
from envoi.deliveries.models import Delivery, Status
from envoi.reporting.engagement import rebuild_engagement
from envoi.reporting.models import DeliveryKpis
from envoi.sending.models import SendingLog, SendStatus
from envoi.tracking.models import MessageEngagement

DELIVERED_STATUSES = (SendStatus.SENT, SendStatus.DELIVERED)
REFRESH_CHUNK = 500  # deliveries per set of queries in the hourly refresh

# KPI name -> the engagement column whose non-null values it counts.
ENGAGEMENT_COUNTS = {
    "opens": "opened_at",
    "opens_human": "human_opened_at",
    "clicks": "clicked_at",
    "clicks_human": "human_clicked_at",
    "mirror_views": "mirrored_at",
    "unsubscriptions": "unsubscribed_at",
}


@dataclass
class Counts:
    """The exact counts every KPI of one delivery derives from."""

    to_deliver: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    ignored: int = 0
    engagement: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Sent = delivered + failed: every message handed to the relay and processed."""
        return self.delivered + self.failed

    def engaged(self, name: str) -> int:
        return self.engagement.get(name, 0)

    def count_status(self, status: str, n: int) -> None:
        """Add ``n`` sending-log rows in ``status`` (to deliver is counted apart)."""
        if status in DELIVERED_STATUSES:
            self.delivered += n
        elif status == SendStatus.FAILED:
            self.failed += n
        elif status == SendStatus.PENDING:
            self.pending += n
        elif status == SendStatus.IGNORED:
            self.ignored += n

    def absorb(self, other: Counts) -> None:
        """Add ``other``'s counts to these: a recurring delivery sums its executions."""
        self.to_deliver += other.to_deliver
        self.delivered += other.delivered
        self.failed += other.failed
        self.pending += other.pending
        self.ignored += other.ignored
        for name, value in other.engagement.items():
            self.engagement[name] = self.engagement.get(name, 0) + value
        merged = {(f["type"], f["reason"]): f["count"] for f in self.failures}
        for f in other.failures:
            merged[f["type"], f["reason"]] = merged.get((f["type"], f["reason"]), 0) + f["count"]
        self.failures = [{"type": t, "reason": r, "count": n}
                         for (t, r), n in sorted(merged.items())]


def ratio(part: int, whole: int) -> float:
    """part / whole, or 0.0 when ``whole`` is 0."""
    return part / whole if whole else 0.0


def sent_rate(counts: Counts) -> float:
    """Sent % = sent / to deliver."""
    return ratio(counts.sent, counts.to_deliver)


def delivered_rate(counts: Counts) -> float:
    """Delivered % = delivered / sent."""
    return ratio(counts.delivered, counts.sent)


def failed_rate(counts: Counts) -> float:
    """Bounces + errors % = failed / sent."""
    return ratio(counts.failed, counts.sent)


def open_rate(counts: Counts, human: bool = False) -> float:
    """Open rate = distinct messages with an open, click, mirror view or unsubscribe /
    delivered; with ``human``, only events not flagged ``machine`` count."""
    return ratio(counts.engaged("opens_human" if human else "opens"), counts.delivered)


def click_rate(counts: Counts, human: bool = False) -> float:
    """Click-through rate = distinct messages with at least one click / delivered; with
    ``human``, only clicks not flagged ``machine`` count."""
    return ratio(counts.engaged("clicks_human" if human else "clicks"), counts.delivered)


def failures_by_type(counts: Counts) -> dict[str, int]:
    """Failed messages per failure type (hard, soft, ignored); sums to ``failed``."""
    by_type: dict[str, int] = {}
    for failure in counts.failures:
        by_type[failure["type"]] = by_type.get(failure["type"], 0) + failure["count"]
    return by_type


def kpis_of(counts: Counts) -> dict[str, Any]:
    """The KPI dictionary the API returns and ``DeliveryKpis.values`` stores."""
    return {
        "to_deliver": counts.to_deliver,
        "sent": counts.sent,
        "sent_rate": sent_rate(counts),
        "delivered": counts.delivered,
        "delivered_rate": delivered_rate(counts),
        "failed": counts.failed,
        "failed_rate": failed_rate(counts),
        "pending": counts.pending,
        "ignored": counts.ignored,
        **{name: counts.engaged(name) for name in ENGAGEMENT_COUNTS},
        "open_rate": open_rate(counts),
        "open_rate_human": open_rate(counts, human=True),
        "click_rate": click_rate(counts),
        "click_rate_human": click_rate(counts, human=True),
        "failures_by_type": failures_by_type(counts),
        "failures_by_reason": counts.failures,
    }


# Reading the counts: a few set-based queries for any number of deliveries. ------------


def gather_counts(delivery_ids: Iterable[int]) -> dict[int, Counts]:
    """The counts of each delivery, in five queries whatever their number. A recurring
    delivery's counts are the sums of its executions' (SPEC §4)."""
    ids = sorted(set(delivery_ids))
    executions = execution_ids(ids)
    counted = set(ids).union(*executions.values())
    counts = {pk: Counts(to_deliver=to_deliver) for pk, to_deliver in
              Delivery.objects.filter(pk__in=counted).values_list("pk", "to_deliver")}
    add_sending_counts(counts)
    _add_failures(counts)
    _add_engagement(counts)
    for parent, children in executions.items():
        counts[parent] = Counts()
        for child in children:
            counts[parent].absorb(counts[child])
    return {pk: counts[pk] for pk in ids if pk in counts}


def execution_ids(parent_ids: Iterable[int]) -> dict[int, list[int]]:
    """The executions of those of ``parent_ids`` that are recurring deliveries."""
    found: dict[int, list[int]] = {}
    rows = (Delivery.objects.filter(parent_id__in=list(parent_ids)).order_by("pk")
            .values_list("parent_id", "pk"))
    for parent, child in rows:
        found.setdefault(parent, []).append(child)
    return found


def add_sending_counts(counts: dict[int, Counts]) -> None:
    """Fill delivered, failed, pending and ignored from the sending log: the one place
    that maps row statuses to counts."""
    # COUNT(*) only: PostgreSQL answers from the (delivery_id, status) index alone.
    rows = (SendingLog.objects.filter(delivery_id__in=list(counts)).order_by()
            .values_list("delivery_id", "status").annotate(n=Count("*")))
    for delivery_id, status, n in rows:
        counts[delivery_id].count_status(status, n)


def _add_failures(counts: dict[int, Counts]) -> None:
    rows = (SendingLog.objects.filter(delivery_id__in=list(counts), status=SendStatus.FAILED)
            .order_by().values_list("delivery_id", "failure_type", "failure_reason")
            .annotate(n=Count("*")).order_by("delivery_id", "failure_type", "failure_reason"))
    for delivery_id, failure_type, reason, n in rows:
        counts[delivery_id].failures.append({"type": failure_type, "reason": reason,
                                             "count": n})


def _add_engagement(counts: dict[int, Counts]) -> None:
    aggregates = {name: Count(column) for name, column in ENGAGEMENT_COUNTS.items()}
    rows = (MessageEngagement.objects.filter(delivery_id__in=list(counts)).order_by()
            .values_list("delivery_id").annotate(**aggregates))
    for delivery_id, *values in rows:
        counts[delivery_id].engagement = dict(zip(ENGAGEMENT_COUNTS, values, strict=True))


# Computing and storing. ----------------------------------------------------------------


def compute_from_engagement(delivery_id: int) -> dict[str, Any]:
    """The KPIs from the sending log and the incrementally kept engagement rows."""
    return kpis_of(gather_counts([delivery_id]).get(delivery_id, Counts()))


def compute_stats(delivery_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Compute stats: rebuild the engagement from the logs, compute, store, return."""
    executions = execution_ids([delivery_id]).get(delivery_id, [])
    with transaction.atomic():
        for pk in [delivery_id, *executions]:
            rebuild_engagement(pk)
        refresh_many(executions, now)
        return refresh(delivery_id, now)


def refresh(delivery_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Compute the KPIs from the engagement rows and store them as the delivery's."""
    return refresh_many([delivery_id], now).get(delivery_id, kpis_of(Counts()))


def refresh_many(delivery_ids: Iterable[int], now: datetime | None = None) -> dict[int, dict]:
    """Refresh the stored KPIs of several deliveries in a handful of statements."""
    values = {pk: kpis_of(counts) for pk, counts in gather_counts(delivery_ids).items()}
    computed_at = now or clock.now()
    DeliveryKpis.objects.bulk_create(
        [DeliveryKpis(delivery_id=pk, computed_at=computed_at, values=kpis)
         for pk, kpis in values.items()],
        update_conflicts=True, unique_fields=["delivery"],
        update_fields=["computed_at", "values"])
    return values


def recent_delivery_ids(now: datetime, days: int) -> list[int]:
    """Deliveries whose figures can still move: started, and still sending or last
    moved (finished, stopped, ...) within ``days``."""
    cutoff = now - timedelta(days=days)
    sending = Q(status__in=[Status.IN_PROGRESS, Status.PAUSED])
    return list(Delivery.objects.filter(started_at__isnull=False)
                .filter(sending | Q(updated_at__gte=cutoff))
                .order_by("pk").values_list("pk", flat=True))


def refresh_recent(now: datetime) -> int:
    """The hourly job: refresh every recent delivery's KPIs; returns how many."""
    ids = recent_delivery_ids(now, settings.ENVOI_KPI_REFRESH_DAYS)
    for start in range(0, len(ids), REFRESH_CHUNK):
        refresh_many(ids[start:start + REFRESH_CHUNK], now)
    return len(ids)
