"""Guards while sending: a delivery pauses itself when its mail is unwanted or blocked.

Three signals, each a share of the messages processed since the delivery's last
pause by a guard, judged once at least ``ENVOI_GUARD_MIN_MESSAGES`` were:

* **complaints** past ``ENVOI_GUARD_COMPLAINT_RATE`` (0.3 %, Gmail's and Yahoo's limit):
  spam reports matched to the delivery's rows, whatever brought them (ARF reports,
  provider notifications by mail or webhook: all pass through :mod:`envoi.bounces`);
* **hard bounces** past ``ENVOI_GUARD_HARD_BOUNCE_RATE`` (5 %): rows failed ``hard``,
  from the relay's SMTP reply, a DSN or a provider's notification alike;
* **soft failures at one provider** (the recipient domain) past
  ``ENVOI_GUARD_PROVIDER_SOFT_RATE`` (20 %) of the messages this worker handed over for
  it, once at least a tenth of the minimum (and 20) were: a block in progress. Counted
  in the worker from the replies it records, so no query groups the log by domain.

The pause is the lifecycle's own ``pause`` move, audited as ``delivery.guard_pause``
with the signal, the counts and the threshold, and shown on the Deployment block.
Resuming is the person's ``resume`` (Start deliveries); the guard then judges only
what is sent after it, as the personalization pause does
(:mod:`envoi.sending.personalization`).

Cost: a worker counts a delivery's log at most every :data:`CHECK_EVERY` seconds (an
index-only count by status, and a count of its failed hard rows), or sooner when a
batch's own hard failures already pass the threshold. Bounces and complaints are
judged as they are taken in (a complaint always; its count reads an index of the
inbound messages by delivery).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count

from envoi import config
from envoi.accounts.models import AuditEntry
from envoi.accounts.services import audit
from envoi.deliveries import lifecycle
from envoi.deliveries.models import Delivery, Status
from envoi.sending.models import FailureType, SendingLog, SendStatus

log = logging.getLogger("envoi.worker")

GUARD_PAUSE = "delivery.guard_pause"
CHECK_EVERY = 2.0
SOONEST = 0.2
"""Seconds: even batches past a threshold are not counted more often than this."""
COMPLAINT, HARD_BOUNCE, PROVIDER_SOFT = "complaints", "hard_bounces", "provider_soft_failures"


@dataclass(frozen=True)
class Thresholds:
    min_messages: int
    complaint_rate: float
    hard_bounce_rate: float
    provider_soft_rate: float

    @classmethod
    def from_env(cls) -> Thresholds:
        return cls(int(config.env("ENVOI_GUARD_MIN_MESSAGES", "500")),
                   float(config.env("ENVOI_GUARD_COMPLAINT_RATE", "0.003")),
                   float(config.env("ENVOI_GUARD_HARD_BOUNCE_RATE", "0.05")),
                   float(config.env("ENVOI_GUARD_PROVIDER_SOFT_RATE", "0.2")))

    @property
    def provider_min(self) -> int:
        return max(20, self.min_messages // 10)


@dataclass(frozen=True)
class Tally:
    processed: int = 0
    hard: int = 0
    complaints: int = 0

    def __sub__(self, other: Tally) -> Tally:
        return Tally(self.processed - other.processed, self.hard - other.hard,
                     self.complaints - other.complaints)


def tally(delivery_id: int, *, with_complaints: bool = True) -> Tally:
    """The delivery's counts; without complaints (``with_complaints=False``) they read
    as unchanged since the last guard pause: the worker judges hard bounces, and the
    bounce intake judges every complaint as it arrives."""
    by_status = dict(SendingLog.objects.filter(delivery_id=delivery_id).order_by()
                     .values_list("status").annotate(n=Count("*")))
    processed = sum(n for status, n in by_status.items() if status != SendStatus.PENDING)
    hard = SendingLog.objects.filter(delivery_id=delivery_id, status=SendStatus.FAILED,
                                     failure_type=FailureType.HARD).count()
    found = (complaints(delivery_id) if with_complaints
             else last_pause(delivery_id).complaints)
    return Tally(processed, hard, found)


def complaints(delivery_id: int) -> int:
    """Complained-about rows of the delivery: each row once, however many reports."""
    from envoi.bounces.models import InboundKind, InboundMessage, InboundOutcome

    return (InboundMessage.objects.filter(delivery_id=delivery_id, kind=InboundKind.COMPLAINT,
                                          outcome=InboundOutcome.MATCHED)
            .values("row_id").distinct().count())


def last_pause(delivery_id: int) -> Tally:
    entry = (AuditEntry.objects.filter(delivery_id=delivery_id, action=GUARD_PAUSE)
             .order_by("-id").first())
    if entry is None:
        return Tally()
    counts = entry.detail.get("totals", {})
    return Tally(int(counts.get("processed", 0)), int(counts.get("hard", 0)),
                 int(counts.get("complaints", 0)))


def verdict(since: Tally, limits: Thresholds) -> dict | None:
    """The first signal past its threshold, with its numbers; ``None`` if none is."""
    if since.processed < max(limits.min_messages, 1):
        return None
    for signal, count, limit in ((COMPLAINT, since.complaints, limits.complaint_rate),
                                 (HARD_BOUNCE, since.hard, limits.hard_bounce_rate)):
        if count > limit * since.processed:
            return {"signal": signal, "count": count, "processed": since.processed,
                    "rate": round(count / since.processed, 5), "threshold": limit}
    return None


def check(delivery_id: int, limits: Thresholds | None = None, *,
          with_complaints: bool = True) -> bool:
    """Pause the delivery if complaints or hard bounces since the last guard pause
    pass their thresholds; whether it paused now."""
    limits = limits or Thresholds.from_env()
    current = tally(delivery_id, with_complaints=with_complaints)
    found = verdict(current - last_pause(delivery_id), limits)
    if found is None:
        return False
    if not with_complaints:  # the pause keeps every total, for the next judgement
        current = tally(delivery_id)
    return pause(delivery_id, found, current)


def pause(delivery_id: int, found: dict, totals: Tally) -> bool:
    try:
        delivery = Delivery.objects.get(pk=delivery_id)
        lifecycle.apply(delivery, "pause")
    except (lifecycle.InvalidTransition, Delivery.DoesNotExist):
        return False  # paused, stopped or finished meanwhile
    audit(None, GUARD_PAUSE, delivery_id=delivery_id, **found,
          totals={"processed": totals.processed, "hard": totals.hard,
                  "complaints": totals.complaints})
    log.warning("delivery %s paused by a guard: %s", delivery_id, found)
    return True


def check_in_progress(delivery_id: int) -> bool:
    """:func:`check`, for a delivery that is sending (bounces and complaints that come
    in after it finished, or while it is paused, change nothing)."""
    if not Delivery.objects.filter(pk=delivery_id, status=Status.IN_PROGRESS).exists():
        return False
    return check(delivery_id)


@dataclass
class ProviderCounts:
    handed: Counter = field(default_factory=Counter)
    soft: Counter = field(default_factory=Counter)


class Guards:
    """A worker's guard checks: when it next counts each delivery, and the soft
    failures it saw per provider."""

    def __init__(self) -> None:
        self._checked: dict[int, float] = {}
        self._providers: dict[int, ProviderCounts] = {}

    def after_batch(self, delivery_id: int, outcomes: Iterable, addresses: dict[int, str],
                    ) -> bool:
        """Judge the delivery after a recorded batch; whether it paused."""
        limits = Thresholds.from_env()
        outcomes = list(outcomes)
        if self._provider_blocked(delivery_id, outcomes, addresses, limits):
            return True
        hard = sum(1 for outcome in outcomes if outcome.failure_type == FailureType.HARD)
        batch_over = bool(outcomes) and hard > limits.hard_bounce_rate * len(outcomes)
        if not _due(self._checked, delivery_id, batch_over):
            return False
        return check(delivery_id, limits, with_complaints=False)

    def _provider_blocked(self, delivery_id: int, outcomes: list, addresses: dict[int, str],
                          limits: Thresholds) -> bool:
        counts = self._providers.setdefault(delivery_id, ProviderCounts())
        for outcome in outcomes:
            address = addresses.get(outcome.row_id, "")
            provider = address.rpartition("@")[2].lower()
            counts.handed[provider] += 1
            # A 4xx reply from the provider's server: not a message that was never made,
            # nor a relay that could not be reached (code 0), which says nothing of it.
            if outcome.failure_type == FailureType.SOFT and outcome.smtp_reply[:1] == "4":
                counts.soft[provider] += 1
        for provider, soft in counts.soft.items():
            handed = counts.handed[provider]
            if handed >= limits.provider_min and soft > limits.provider_soft_rate * handed:
                self._providers.pop(delivery_id, None)  # judged afresh after a resume
                found = {"signal": PROVIDER_SOFT, "provider": provider, "count": soft,
                         "processed": handed, "rate": round(soft / handed, 5),
                         "threshold": limits.provider_soft_rate}
                return pause(delivery_id, found, tally(delivery_id))
        return False


def _due(checked: dict[int, float], delivery_id: int, urgent: bool) -> bool:
    """Whether to count the delivery now: every :data:`CHECK_EVERY` seconds, or every
    :data:`SOONEST` when what just happened already looks past a threshold."""
    now = time.monotonic()
    waited = now - checked.get(delivery_id, float("-inf"))
    if waited < (SOONEST if urgent else CHECK_EVERY):
        return False
    checked[delivery_id] = now
    return True


_inbound_checked: dict[int, float] = {}


def after_inbound(delivery_id: int, complaint: bool) -> bool:
    """Judge a sending delivery after a bounce or complaint about one of its rows was
    taken in; whether it paused. Every complaint is judged (they are few, and one can
    tip a small delivery over 0.3 %); bounces at most every :data:`CHECK_EVERY` s."""
    if not complaint and not _due(_inbound_checked, delivery_id, urgent=False):
        return False
    return check_in_progress(delivery_id)


def guard_pause(delivery_id: int) -> dict | None:
    """Why a paused delivery paused itself, for its Deployment block: the audit detail
    of its last pause, when a guard made it and no person resumed it since."""
    entry = (AuditEntry.objects.filter(delivery_id=delivery_id, allowed=True, action__in=(
        GUARD_PAUSE, "delivery.pause", "delivery.resume")).order_by("-id").first())
    if entry is None or entry.action != GUARD_PAUSE:
        return None
    return dict(entry.detail)
