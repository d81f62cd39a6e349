"""Which actions a delivery's state allows a person to take now, and whether it has sent.

:func:`envoi.deliveries.services.available_actions` puts this together with the role
table; the services check the same rules again when an action is taken.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from envoi.deliveries import lifecycle, recurring
from envoi.deliveries.models import Delivery, Status
from envoi.sending.models import SendingLog, SendStatus

RUNNING = frozenset({Status.IN_PROGRESS, Status.PAUSED})


def has_sent(delivery: Delivery) -> bool:
    """Whether the delivery, or one of its executions, has sent (or tried to send) any
    message: a row past pending that was not ignored, or one with an attempt."""
    untouched = Q(status__in=[SendStatus.PENDING, SendStatus.IGNORED], attempts=0)
    return SendingLog.objects.filter(delivery_id__in=_family(delivery)).exclude(
        untouched).exists()


def _family(delivery: Delivery) -> Any:
    """The delivery's id and its executions' ids, as a subquery."""
    return Delivery.objects.filter(Q(pk=delivery.pk) | Q(parent_id=delivery.pk)).values("pk")


class ActionRules:
    """What the delivery's state (and schedule) allows a person to do: one method per
    action that needs more than the lifecycle's table; the rest follow ``MOVES``."""

    def __init__(self, delivery: Delivery, recurrence: dict[str, Any] | None):
        self.delivery, self.recurrence = delivery, recurrence
        self._sent: bool | None = None

    def sent(self) -> bool:
        if self._sent is None:
            self._sent = has_sent(self.delivery)
        return self._sent

    def allows(self, action: str) -> bool:
        rule = getattr(self, f"_{action}", None)
        if rule is not None:
            return bool(rule())
        return self.delivery.status in lifecycle.MOVES[action].sources

    def _edit(self) -> bool:
        return self.delivery.status in lifecycle.EDITABLE_STATES

    def _proof(self) -> bool:
        return self.delivery.status in lifecycle.PREPARED_STATES

    def _startable(self) -> bool:
        delivery = self.delivery
        if delivery.status not in lifecycle.MOVES["confirm"].sources:
            return False
        if delivery.approval_required and delivery.status != Status.APPROVED:
            return False
        return recurring.parent_approval_holds(delivery)

    def _confirm(self) -> bool:
        recurrence = self.recurrence
        if recurrence is not None and self.delivery.status in RUNNING:
            # A running schedule is confirmed once, and only where runs then send by
            # themselves (not when each run asks for its own confirmation).
            return recurrence["confirmed_at"] is None and not _asks_each_run(recurrence)
        return self._startable()

    def _activate(self) -> bool:
        return self.recurrence is not None and self._startable()

    def _withdraw_confirmation(self) -> bool:
        recurrence = self.recurrence
        return (recurrence is not None and recurrence["confirmed_at"] is not None
                and self.delivery.status in RUNNING)

    def _reschedule(self) -> bool:
        return self.delivery.status == Status.START_PENDING

    _cancel_schedule = _reschedule

    def _delete(self) -> bool:
        return self.delivery.status not in lifecycle.SENDING_STATES and not self.sent()

    def _archive(self) -> bool:
        return (self.delivery.archived_at is None and self.delivery.parent_id is None
                and self.delivery.status not in lifecycle.SENDING_STATES)

    def _unarchive(self) -> bool:
        return self.delivery.archived_at is not None and self.delivery.parent_id is None


def _asks_each_run(recurrence: dict[str, Any]) -> bool:
    """Whether each run waits for its own confirmation (SPEC §4)."""
    return bool(recurrence["request_confirmation"] and recurrence["aggregation"] == "none")
