"""Scheduled and recurring deliveries for the console's tests, through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from envoi.deliveries import recurring
from envoi.deliveries.models import Delivery, Recurrence
from tests.support.deliveries import delivery_in

# 09:00 in Seoul, a Tuesday.
FIRST_RUN = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)


def recurring_in(state: str, label: str = "Daily news", time_zone: str = "Asia/Seoul",
                 **recurrence) -> Delivery:
    """A daily 09:00 recurring delivery brought to ``state`` (``in_progress``: its
    schedule runs)."""
    return delivery_in(state, label=label, time_zone=time_zone,
                       recurrence={"every": "day", "at": "09:00", **recurrence})


def fire_runs(parent: Delivery, days: int, first: datetime = FIRST_RUN) -> list[Delivery]:
    """Fire ``days`` daily runs of a running recurring delivery through the scheduler's
    own claim; returns the executions, oldest first."""
    recurrence = Recurrence.objects.get(delivery=parent)
    executions = []
    for day in range(days):
        due = first + timedelta(days=day)
        Recurrence.objects.filter(pk=recurrence.pk).update(next_run_at=due)
        execution_id = recurring.fire(recurrence.pk, due, due)
        assert execution_id is not None
        executions.append(Delivery.objects.get(pk=execution_id))
    return executions
