"""Recipients whose message cannot be rendered, and when a delivery pauses itself.

A render that fails (:class:`~envoi.deliveries.liquid.PersonalizationError`) fails that
recipient's row alone, with its reason and the error's line and column. When many do,
the template is wrong for this audience rather than for a few odd profiles: the
delivery pauses itself, audited (``delivery.auto_pause``) and shown on its dashboard,
instead of failing thousands of rows. Resuming it sends on; it pauses again only if
as many more fail after that.

The threshold (``ENVOI_PERSONALIZATION_FAILURE_PAUSE``, ``…_RATIO``): at least this many
failures since the last pause, and at least this share of the rows processed since.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db.models import Count, Q

from envoi import config
from envoi.accounts.models import AuditEntry
from envoi.accounts.services import audit
from envoi.deliveries import lifecycle
from envoi.deliveries.liquid import MESSAGE_TOO_LARGE, PERSONALIZATION_ERROR
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog, SendStatus

log = logging.getLogger("envoi.worker")

PAUSE_AFTER = int(config.env("ENVOI_PERSONALIZATION_FAILURE_PAUSE", "20"))
"""Failures before a delivery may pause itself; 0: never pause."""
PAUSE_RATIO = float(config.env("ENVOI_PERSONALIZATION_FAILURE_RATIO", "0.05"))
"""…and the share of processed rows they must be."""

REASONS = (PERSONALIZATION_ERROR, MESSAGE_TOO_LARGE)
AUTO_PAUSE = "delivery.auto_pause"


@dataclass(frozen=True)
class Tally:
    failed: int
    processed: int

    def __sub__(self, other: Tally) -> Tally:
        return Tally(self.failed - other.failed, self.processed - other.processed)

    def over_threshold(self) -> bool:
        return (PAUSE_AFTER > 0 and self.failed >= PAUSE_AFTER
                and self.failed >= PAUSE_RATIO * max(self.processed, 1))


def past_threshold(failed: int, rendered: int) -> bool:
    """Whether a batch's own failures already pass the threshold (rendering the rest
    of it would only fail more rows)."""
    return Tally(failed, failed + rendered).over_threshold()


CHECK_EVERY = 2.0
"""Seconds between a worker's threshold checks of one delivery (each counts its rows),
unless a batch's own failures already pass the threshold."""


class PauseChecks:
    """When a worker next counts a delivery's failures: a sparse failure in each batch
    of a million-row delivery must not cost a count of its log per batch."""

    def __init__(self) -> None:
        self._next: dict[int, float] = {}

    def after_batch(self, delivery_id: int, failed: int, rendered: int, example: str) -> bool:
        now = time.monotonic()
        if not past_threshold(failed, rendered) and now < self._next.get(delivery_id, 0.0):
            return False
        self._next[delivery_id] = now + CHECK_EVERY
        return pause_if_failing(delivery_id, example)


def tally(delivery_id: int) -> Tally:
    counts = SendingLog.objects.filter(delivery_id=delivery_id).aggregate(
        failed=Count("id", filter=Q(status=SendStatus.FAILED, failure_reason__in=REASONS)),
        processed=Count("id", filter=~Q(status=SendStatus.PENDING)))
    return Tally(counts["failed"], counts["processed"])


def last_pause(delivery_id: int) -> Tally:
    """The tally at the delivery's last pause by this rule (zero if none)."""
    entry = (AuditEntry.objects.filter(delivery_id=delivery_id, action=AUTO_PAUSE)
             .order_by("-id").first())
    if entry is None:
        return Tally(0, 0)
    return Tally(int(entry.detail.get("failed", 0)), int(entry.detail.get("processed", 0)))


def pause_if_failing(delivery_id: int, example: str) -> bool:
    """Pause the delivery if its failures since the last such pause pass the threshold."""
    current = tally(delivery_id)
    if not (current - last_pause(delivery_id)).over_threshold():
        return False
    try:
        delivery = Delivery.objects.get(pk=delivery_id)
        lifecycle.apply(delivery, "pause")
    except (lifecycle.InvalidTransition, Delivery.DoesNotExist):
        return False  # paused, stopped or finished meanwhile (by a person or a worker)
    audit(None, AUTO_PAUSE, delivery_id=delivery_id, reason=PERSONALIZATION_ERROR,
          failed=current.failed, processed=current.processed, example=example[:500])
    log.warning("delivery %s paused: %s of %s messages could not be rendered (%s)",
                delivery_id, current.failed, current.processed, example)
    return True


def auto_pause(delivery_id: int) -> dict | None:
    """Why a paused delivery paused itself, for its dashboard: the audit detail of its
    last pause, when that was this rule's and no person resumed it since."""
    entry = (AuditEntry.objects.filter(delivery_id=delivery_id, allowed=True, action__in=(
        AUTO_PAUSE, "delivery.pause", "delivery.resume")).order_by("-id").first())
    if entry is None or entry.action != AUTO_PAUSE:
        return None
    return dict(entry.detail)
