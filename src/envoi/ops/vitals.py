"""What a sending worker tells its operators: a heartbeat row, and its metrics.

The worker calls :meth:`WorkerVitals.tick` on every turn of its loop (it writes at most
every ``HEARTBEAT_SECONDS``) and :meth:`WorkerVitals.batch_recorded` once per batch,
so the cost per message is nil.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import DatabaseError

import envoi
from envoi.ops import metrics
from envoi.ops.keys import key_fingerprint
from envoi.ops.models import WorkerHeartbeat

log = logging.getLogger("envoi.worker")

HEARTBEAT_SECONDS = 5.0
RECENT_SECONDS = 60.0
FORGET_LOST_AFTER = timedelta(days=7)


class WorkerVitals:
    def __init__(self, worker_id: str, clock: Callable[[], datetime],
                 every: float = HEARTBEAT_SECONDS):
        self.worker_id = worker_id[:64]
        self.clock = clock
        self.every = every
        self.started_at = clock()
        self.current_delivery_id: int | None = None
        self._recent: deque[tuple[float, int]] = deque()  # (monotonic time, messages)
        self._next_beat = 0.0
        self._swept = False

    # -- heartbeat -------------------------------------------------------------------

    def tick(self) -> None:
        """Write the heartbeat if the last one is ``every`` seconds old."""
        moment = time.monotonic()
        if moment >= self._next_beat:
            self._next_beat = moment + self.every
            self.beat()

    def beat(self) -> None:
        if not self._swept:  # once per start: forget workers lost long ago
            WorkerHeartbeat.objects.filter(
                last_seen_at__lt=self.clock() - FORGET_LOST_AFTER).delete()
            self._swept = True
        WorkerHeartbeat.objects.update_or_create(worker_id=self.worker_id, defaults={
            "host": socket.gethostname()[:255], "pid": os.getpid(),
            "version": envoi.__version__, "started_at": self.started_at,
            "last_seen_at": self.clock(), "current_delivery_id": self.current_delivery_id,
            "messages_last_minute": self.messages_last_minute(),
            "key_fingerprint": key_fingerprint()})

    def stopped(self) -> None:
        """A clean stop: the row goes (a worker that dies keeps it, and shows as lost)."""
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        except DatabaseError:
            log.warning("worker %s: heartbeat row left behind", self.worker_id)

    def messages_last_minute(self) -> int:
        horizon = time.monotonic() - RECENT_SECONDS
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()
        if not self._recent:
            self.current_delivery_id = None  # idle for a minute
        return sum(count for _, count in self._recent)

    # -- per batch -------------------------------------------------------------------

    def batch_recorded(self, delivery_id: int, channel: str, outcomes: Sequence,
                       relays: Sequence[str], claimed_at: float, replied_at: float) -> None:
        """A batch's outcomes are recorded: count them, time them."""
        recorded_at = time.monotonic()
        self.current_delivery_id = delivery_id
        self._recent.append((recorded_at, len(outcomes)))
        metrics.count_outcomes(channel, outcomes, relays)
        if claimed_at:
            metrics.CLAIM_TO_SEND.observe(replied_at - claimed_at)
        metrics.SEND_TO_RECORD.observe(recorded_at - replied_at)

    @staticmethod
    def rate_limited(seconds: float) -> None:
        metrics.RATE_LIMIT_WAITS.inc()
        metrics.RATE_LIMIT_WAIT_SECONDS.inc(seconds)
