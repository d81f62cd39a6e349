"""What operators are shown, read from the database: the queue and the workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from envoi import clock
from envoi.deliveries.models import Status
from envoi.ops.models import WorkerHeartbeat


def queue_depth(now: datetime | None = None) -> tuple[int, int]:
    """(pending, due) rows of the deliveries in progress: due ones a worker could take
    now; the others wait for a retry time or sit under a lease."""
    now = now or clock.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN (s.next_attempt_at IS NULL "
            "OR s.next_attempt_at <= %s) AND (s.lease_until IS NULL OR s.lease_until < %s) "
            "THEN 1 ELSE 0 END), 0) FROM sending_sendinglog s "
            "JOIN deliveries_delivery d ON d.id = s.delivery_id "
            "WHERE s.status = 'pending' AND d.status = %s",
            [now, now, Status.IN_PROGRESS.value])
        pending, due = cursor.fetchone()
    return int(pending), int(due)


def lease() -> timedelta:
    return timedelta(seconds=settings.ENVOI_LEASE_SECONDS)


@dataclass(frozen=True)
class WorkerView:
    """A worker as the console and ``envoi workers`` show it."""

    worker_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen_at: datetime
    current_delivery_id: int | None
    messages_last_minute: int
    lost: bool
    key_fingerprint: str = ""

    @property
    def state(self) -> str:
        return "lost" if self.lost else "alive"


def workers(now: datetime | None = None) -> list[WorkerView]:
    """Every worker that wrote a heartbeat, alive ones first; a worker silent for longer
    than the lease is lost."""
    now = now or clock.now()
    limit = now - lease()
    found = [WorkerView(w.worker_id, w.host, w.pid, w.version, w.started_at, w.last_seen_at,
                        w.current_delivery_id, w.messages_last_minute, w.last_seen_at < limit,
                        w.key_fingerprint)
             for w in WorkerHeartbeat.objects.all()]
    return sorted(found, key=lambda w: (w.lost, w.host, w.pid))


def worker_counts(now: datetime | None = None) -> tuple[int, int]:
    """(alive, lost) workers."""
    limit = (now or clock.now()) - lease()
    alive = WorkerHeartbeat.objects.filter(last_seen_at__gte=limit).count()
    lost = WorkerHeartbeat.objects.filter(last_seen_at__lt=limit).count()
    return alive, lost
