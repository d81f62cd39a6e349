"""The delivery lifecycle (SPEC §2): the only code that writes ``Delivery.status``.

Each move is one conditional ``UPDATE … WHERE status IN (…)``, so two people (or a
person and a worker) acting at once cannot both win: the loser gets
:class:`InvalidTransition` and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, Max, OuterRef

from envoi import clock
from envoi.deliveries.models import Delivery, Status
from envoi.sending import wakeup

S = Status

# States in which the delivery holds a preparation (its sending log is built).
PREPARED_STATES = frozenset({S.READY, S.PENDING_APPROVAL, S.APPROVED})
# States in which content, audience and sender may still change.
EDITABLE_STATES = frozenset({S.EDITING, S.PREPARATION_FAILED, *PREPARED_STATES})
# States in which the worker sends, or will send, the delivery's rows.
SENDING_STATES = frozenset({S.START_PENDING, S.IN_PROGRESS, S.PAUSED})


@dataclass(frozen=True)
class Move:
    sources: frozenset[Status]
    target: Status


MOVES: dict[str, Move] = {
    "prepare": Move(EDITABLE_STATES, S.PREPARING),
    "prepared": Move(frozenset({S.PREPARING}), S.READY),
    "await_approval": Move(frozenset({S.PREPARING}), S.PENDING_APPROVAL),
    "preparation_failed": Move(frozenset({S.PREPARING}), S.PREPARATION_FAILED),
    "edit": Move(EDITABLE_STATES, S.EDITING),
    "approve": Move(frozenset({S.PENDING_APPROVAL}), S.APPROVED),
    "reject": Move(frozenset({S.PENDING_APPROVAL}), S.EDITING),
    "confirm": Move(frozenset({S.READY, S.APPROVED}), S.IN_PROGRESS),
    "schedule": Move(frozenset({S.READY, S.APPROVED}), S.START_PENDING),
    "start": Move(frozenset({S.START_PENDING}), S.IN_PROGRESS),
    "pause": Move(frozenset({S.IN_PROGRESS}), S.PAUSED),
    "resume": Move(frozenset({S.PAUSED}), S.IN_PROGRESS),
    "stop": Move(SENDING_STATES, S.STOPPED),
    # Stopping a recurring delivery ends each execution not yet finished: one waiting for
    # its confirmation, one scheduled, and one sending (which stops like any delivery).
    "stop_with_parent": Move(PREPARED_STATES | SENDING_STATES | {S.EDITING,
                                                                 S.PREPARATION_FAILED},
                             S.STOPPED),
    # A Start-deliveries user takes back a scheduled send: it waits for a confirmation
    # again, approved (when approval is required) or ready.
    "unschedule_approved": Move(frozenset({S.START_PENDING}), S.APPROVED),
    "unschedule": Move(frozenset({S.START_PENDING}), S.READY),
    "finish": Move(frozenset({S.IN_PROGRESS}), S.FINISHED),
    # A later run of an aggregation period adds recipients to a finished execution.
    "reopen": Move(frozenset({S.FINISHED}), S.IN_PROGRESS),
    # A recurring delivery whose approved snapshot no longer holds (its audience was
    # edited) is prepared again and waits for a new approval before its next run.
    "return_for_approval": Move(frozenset({S.IN_PROGRESS}), S.PREPARING),
    "fail": Move(SENDING_STATES | {S.PREPARING}, S.FAILED),
}


class InvalidTransition(Exception):
    """The delivery is not in a state that allows the move; faces answer 409."""

    def __init__(self, delivery_id: int, move: str, status: str):
        self.delivery_id, self.move, self.status = delivery_id, move, status
        label = status.replace("_", " ")
        super().__init__(f"Delivery {delivery_id} is {label}: it cannot {move.replace('_', ' ')}.")


def apply(delivery: Delivery, move: str, **fields: Any) -> Delivery:
    """Move ``delivery`` along ``move`` and store ``fields`` with it, atomically."""
    rule = MOVES[move]
    changed = Delivery.objects.filter(pk=delivery.pk, status__in=rule.sources).update(
        status=rule.target, updated_at=clock.now(), **fields
    )
    if not changed:
        current = Delivery.objects.filter(pk=delivery.pk).values_list("status", flat=True)
        raise InvalidTransition(delivery.pk, move, current.first() or "deleted")
    if rule.target == S.IN_PROGRESS:
        wakeup.announce()  # idle workers start on it now rather than at their next look
    delivery.refresh_from_db()
    return delivery


def start_sending(delivery: Delivery, now: datetime) -> Delivery:
    """A confirmed delivery sends now, or waits in Start pending for its ``start_at``."""
    if delivery.start_at is not None and delivery.start_at > now:
        return apply(delivery, "schedule")
    return apply(delivery, "confirm", started_at=now, valid_until=valid_until(delivery, now))


def start_due(now: datetime) -> list[int]:
    """Start every delivery in Start pending whose time has come; the ids started.

    Any number of workers may call this at once: each move is a conditional UPDATE,
    so each delivery starts exactly once.
    """
    started = []
    for delivery in Delivery.objects.filter(status=S.START_PENDING, start_at__lte=now):
        try:
            apply(delivery, "start", started_at=now, valid_until=valid_until(delivery, now))
        except InvalidTransition:
            continue  # another worker started it, or a person stopped it
        started.append(delivery.pk)
    return started


def valid_until(delivery: Delivery, now: datetime) -> datetime:
    """The end of the validity period: ``validity_hours`` after the last row falls due
    (rows due later than ``now`` in the recipient's-time-zone mode)."""
    from envoi.sending.models import SendingLog, SendStatus

    last_due = (SendingLog.objects.filter(delivery_id=delivery.pk, status=SendStatus.PENDING)
                .aggregate(last=Max("next_attempt_at"))["last"])
    return max(now, last_due or now) + timedelta(hours=delivery.validity_hours)


def allowed_moves(status: str) -> list[str]:
    return [name for name, rule in MOVES.items() if status in rule.sources]


def finish_if_done(delivery_id: int) -> bool:
    """Finish a delivery in progress once none of its rows is pending (a recurring
    delivery finishes when its schedule ends instead)."""
    from envoi.sending.models import SendingLog, SendStatus

    pending = SendingLog.objects.filter(delivery_id=OuterRef("pk"), status=SendStatus.PENDING)
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=S.IN_PROGRESS, recurrence__isnull=True)
        .exclude(Exists(pending))
        .update(status=S.FINISHED, finished_at=clock.now(), updated_at=clock.now())
    )
