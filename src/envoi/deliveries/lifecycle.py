"""The delivery lifecycle (SPEC §2): the only code that writes ``Delivery.status``.

Each move is one conditional ``UPDATE … WHERE status IN (…)``, so two people (or a
person and a worker) acting at once cannot both win: the loser gets
:class:`InvalidTransition` and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef

from envoi import clock
from envoi.deliveries.models import Delivery, Status

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
    "finish": Move(frozenset({S.IN_PROGRESS}), S.FINISHED),
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
    delivery.refresh_from_db()
    return delivery


def allowed_moves(status: str) -> list[str]:
    return [name for name, rule in MOVES.items() if status in rule.sources]


def finish_if_done(delivery_id: int) -> bool:
    """Finish a delivery in progress once none of its rows is pending."""
    from envoi.sending.models import SendingLog, SendStatus

    pending = SendingLog.objects.filter(delivery_id=OuterRef("pk"), status=SendStatus.PENDING)
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=S.IN_PROGRESS)
        .exclude(Exists(pending))
        .update(status=S.FINISHED, finished_at=clock.now(), updated_at=clock.now())
    )
