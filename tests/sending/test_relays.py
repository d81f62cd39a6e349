"""Relay pools (issue: scale-out): weights, failover on a relay that refuses or stalls,
and a connection cap that holds across workers — against real SMTP servers.

Runs on SQLite and on PostgreSQL (the suite's two passes).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from django.db import connection

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.config import relays_from_url, smtp_from_url
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending.models import RelaySlot, SendingLog
from envoi.sending.relays import Relay, share_out
from envoi.sending.worker import Worker
from tests.support.deliveries import boss
from tests.support.smtpd import SmtpTestServer, free_port


def relay(url: str) -> Relay:
    return Relay(smtp_from_url(url))


def test_lanes_are_shared_out_by_weight_within_caps():
    heavy, light = relay("smtp://a:25?weight=3"), relay("smtp://b:25")
    assert [r.name if r else None for r in share_out(4, [heavy, light], {})] == [
        "a:25", "a:25", "a:25", "b:25"]
    assert [r.name if r else None for r in share_out(4, [heavy, light], {"a:25": 1})] == [
        "a:25", "b:25", "b:25", "b:25"]
    assert share_out(3, [heavy], {"a:25": 2})[-1] is None  # over the cap: no relay
    assert share_out(2, [], {}) == [None, None]


def test_the_relay_list_is_read_from_the_url():
    relays = relays_from_url("smtp://a:25?weight=3&max_connections=10&pool=8  smtp://b:2525")
    assert [(r.name, r.weight, r.max_connections, r.pool_size) for r in relays] == [
        ("a:25", 3, 10, 8), ("b:2525", 1, 0, 4)]
    with pytest.raises(ValueError, match="listed twice"):
        relays_from_url("smtp://a:25 smtp://a:25")


@pytest.fixture
def second_relay() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A relay that accepts TCP connections and then never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def confirmed_delivery(count: int) -> Delivery:
    create_profiles([{"email": f"r{i}@example.com"} for i in range(count)])
    audience = Audience.objects.create(name="all", filter="")
    delivery = services.create(boss(), label="r", sender="a@example.com", subject="s",
                               text_body="{{ unsubscribe_url }}", audience=audience,
                               approval_required=False, retry_delay_seconds=3600)
    return services.confirm(boss(), services.prepare(boss(), delivery))


def recipients(server: SmtpTestServer) -> list[str]:
    return [rcpt for message in server.messages for rcpt in message.rcpt_to]


@pytest.mark.django_db
@pytest.mark.parametrize("bad_relay", ["refusing", "stalling"])
def test_messages_of_a_failing_relay_go_to_the_others(relay, tarpit, bad_relay):
    """The first relay, weighted to take most lanes, refuses connections (nothing
    listens) or stalls (a tarpit; 1 s timeout): it leaves the rotation and every
    message goes through the second at its first attempt."""
    delivery = confirmed_delivery(30)
    bad_port = free_port() if bad_relay == "refusing" else tarpit
    urls = (f"smtp://127.0.0.1:{bad_port}?pool=4&weight=3&timeout=1 "
            f"smtp://127.0.0.1:{relay.port}")
    Worker(smtp_url=urls).run(until_idle=True)
    rows = SendingLog.objects.filter(delivery=delivery)
    assert set(rows.values_list("status", "attempts")) == {("sent", 1)}
    assert sorted(recipients(relay)) == sorted(f"r{i}@example.com" for i in range(30))


@pytest.mark.django_db
def test_with_every_relay_down_rows_wait_for_a_retry(relay):
    delivery = confirmed_delivery(5)
    Worker(smtp_url=f"smtp://127.0.0.1:{free_port()}?timeout=1 "
                    f"smtp://127.0.0.1:{free_port()}").run(until_idle=True)
    rows = SendingLog.objects.filter(delivery=delivery)
    assert set(rows.values_list("status", "failure_type", "failure_reason")) == {
        ("pending", "soft", "unreachable")}
    assert all(row.next_attempt_at for row in rows)


@pytest.mark.django_db
def test_weights_share_the_connections(relay, second_relay):
    """Weights share out a worker's connections; each relay then carries what its
    connections can (a faster relay takes more), and every message goes once."""
    delivery = confirmed_delivery(400)
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}?pool=4&weight=3 "
                    f"smtp://127.0.0.1:{second_relay.port}").run(until_idle=True)
    assert SendingLog.objects.filter(delivery=delivery, status="sent").count() == 400
    assert (relay.connections, second_relay.connections) == (3, 1)
    assert len(relay.messages) + len(second_relay.messages) == 400
    assert relay.messages and second_relay.messages


@pytest.mark.django_db(transaction=True)
def test_a_connection_cap_holds_across_workers(relay):
    """Two workers with four lanes each share a relay capped at three connections."""
    delivery = confirmed_delivery(300)
    url = f"smtp://127.0.0.1:{relay.port}?pool=4&max_connections=3"
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            Worker(worker_id=name, batch_size=20, smtp_url=url).run(until_idle=True)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    Worker(smtp_url=url).run(until_idle=True)  # whatever a worker left, being capped out
    assert not errors, errors
    assert relay.most_concurrent <= 3, relay.most_concurrent
    assert Counter(SendingLog.objects.filter(delivery=delivery)
                   .values_list("status", flat=True)) == {"sent": 300}
    assert sorted(set(recipients(relay))) == sorted(recipients(relay))
    assert not RelaySlot.objects.exclude(holder="").exists()  # all given back
