"""Several workers, each with its own database connection, share one delivery: every
row is sent exactly once (SKIP LOCKED on PostgreSQL, serialized writers on SQLite)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import OperationalError, connection

from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending import queue
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.deliveries import boss, prepared_delivery

RECIPIENTS = 600


def delivery_in_progress(name: str, recipients: int) -> Delivery:
    return services.confirm(boss(), prepared_delivery(name, recipients))


@pytest.mark.django_db(transaction=True)
def test_three_workers_send_each_row_once(relay):
    delivery = delivery_in_progress("c", RECIPIENTS)

    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            Worker(worker_id=name, batch_size=20,
                   smtp_url=f"smtp://127.0.0.1:{relay.port}?pool=2").run(until_idle=True)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    received = Counter(m.rcpt_to[0] for m in relay.messages)
    assert len(received) == RECIPIENTS and set(received.values()) == {1}
    rows = SendingLog.objects.filter(delivery=delivery)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert len(set(rows.values_list("claimed_by", flat=True))) > 1, "the work was shared"


class StopsAfterOneBatch(Worker):
    """A worker whose SIGTERM arrives just after it recorded its first batch."""

    def turn(self) -> int:
        recorded = super().turn() + self.settle()
        self.stopping.set()
        return recorded


@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_after_the_last_batch_finishes_the_delivery(relay):
    delivery = delivery_in_progress("f", 20)

    # A full batch is the whole log, so no claim ever finds its end.
    worker = StopsAfterOneBatch(batch_size=20, smtp_url=f"smtp://127.0.0.1:{relay.port}")
    assert worker.run() == 20

    delivery.refresh_from_db()
    assert delivery.status == "finished"


class StopsWithABatchInFlight(Worker):
    """A worker whose SIGTERM arrives while its batch is still with the relay."""

    def turn(self) -> int:
        recorded = super().turn()
        self.stopping.set()
        return recorded


@pytest.mark.django_db(transaction=True)
def test_a_worker_exits_cleanly_when_its_last_batch_cannot_be_recorded(relay, monkeypatch):
    delivery_in_progress("g", 20)

    def database_gone(outcomes, now):
        raise OperationalError("the database went away")

    monkeypatch.setattr(queue, "record", database_gone)
    worker = StopsWithABatchInFlight(batch_size=20,
                                     smtp_url=f"smtp://127.0.0.1:{relay.port}")
    assert worker.run() == 0

    # Sent, not recorded: the rows wait for their lease to end, then go again (a crash's cost).
    assert len(relay.messages) == 20
    assert set(SendingLog.objects.values_list("status", flat=True)) == {"pending"}
    assert SendingLog.objects.filter(lease_until__isnull=True).count() == 0
