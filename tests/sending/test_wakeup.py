"""An idle worker starts on a confirmed delivery at once (PostgreSQL's NOTIFY), and
hears a stop within a fraction of a second whatever its poll interval."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from envoi.deliveries import services
from envoi.sending.worker import Worker
from tests.support.deliveries import boss, prepared_delivery

LONG_POLL = 60.0  # seconds: far longer than the test may take, so only a wake-up helps


class IdleWorker:
    """A daemon-shaped worker (no ``until_idle``) in a thread of its own."""

    def __init__(self, relay_port: int):
        self.worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay_port}")
        self.processed: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.processed.append(self.worker.run(poll_seconds=LONG_POLL))
        finally:
            connection.close()

    def settle_into_waiting(self) -> None:
        """Until it listens (PostgreSQL), then a moment for its last look before waiting."""
        deadline = time.monotonic() + 10
        while connection.vendor == "postgresql" and self.worker.waiter.listening_on is None:
            assert time.monotonic() < deadline, "the worker never listened"
            time.sleep(0.02)
        time.sleep(0.5)

    def stop(self) -> float:
        """Seconds the worker took to exit once asked to stop."""
        asked = time.monotonic()
        self.worker.stopping.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the worker did not stop"
        return time.monotonic() - asked


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_stops_within_a_fraction_of_a_second(relay):
    idle = IdleWorker(relay.port)
    idle.settle_into_waiting()

    assert idle.stop() < 1.0
    assert idle.processed == [0]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_confirmed_delivery_wakes_an_idle_worker_at_once(relay):
    delivery = prepared_delivery("wake", 30)
    idle = IdleWorker(relay.port)
    idle.settle_into_waiting()

    confirmed = time.monotonic()
    services.confirm(boss(), delivery)
    while len(relay.messages) < 30 and time.monotonic() - confirmed < 20:
        time.sleep(0.01)
    took = time.monotonic() - confirmed

    assert len(relay.messages) == 30
    assert took < 5.0, f"{took:.1f} s: the worker waited for its poll, not the notification"
    idle.stop()
    assert idle.processed == [30]
