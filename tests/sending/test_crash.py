"""A worker killed with SIGKILL mid-send loses nothing; what it repeats is bounded.

Real processes: two ``envoi worker`` processes against the test database and a real
SMTP server. The first is killed while sending; the second takes over once the first
one's lease has run out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.conf import settings

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.support.deliveries import boss
from tests.support.processes import database_url

RECIPIENTS = 1500
BATCH = 25
LEASE_SECONDS = 2



def start_worker(relay_port: int) -> subprocess.Popen:
    env = dict(os.environ,
               ENVOI_DATABASE_URL=database_url(),
               ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay_port}?pool=2",
               ENVOI_SECRET_KEY=settings.SECRET_KEY,
               ENVOI_BASE_URL=settings.ENVOI_BASE_URL,
               ENVOI_LEASE_SECONDS=str(LEASE_SECONDS),
               ENVOI_BATCH_SIZE=str(BATCH))
    return subprocess.Popen([sys.executable, "-m", "envoi", "worker", "--until-idle"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def delivery_in_progress():
    create_profiles([{"email": f"r{i}@example.com", "first_name": f"R{i}"}
                     for i in range(RECIPIENTS)])
    audience = Audience.objects.create(name="crash", filter="")
    delivery = services.create(
        boss(), label="crash", sender="a@example.com", subject="Hi {{ first_name }}",
        text_body="Bye {{ unsubscribe_url }}", audience=audience, approval_required=False)
    return services.confirm(boss(), services.prepare(boss(), delivery))


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_send_loses_nothing(relay):
    delivery = delivery_in_progress()

    first = start_worker(relay.port)
    wait_for(lambda: len(relay.messages) >= RECIPIENTS // 3, 60, "the first messages")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = len(relay.messages)
    assert killed_at < RECIPIENTS, "the worker finished before it could be killed"

    second = start_worker(relay.port)
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output.decode()

    rows = SendingLog.objects.filter(delivery=delivery)
    assert rows.count() == RECIPIENTS
    assert set(rows.values_list("status", flat=True)) == {"sent"}, "one terminal status each"
    received = Counter(message.rcpt_to[0] for message in relay.messages)
    assert set(received) == set(rows.values_list("address", flat=True)), "nobody missing"
    duplicates = sum(count - 1 for count in received.values())
    print(f"\ncrash test: killed after {killed_at} messages; "
          f"{duplicates} duplicates (bound: one batch of {BATCH})")
    assert duplicates <= BATCH
    ids_by_address: dict[str, set[str]] = {}
    for message in relay.messages:
        ids_by_address.setdefault(message.rcpt_to[0], set()).add(
            message.parsed()["Message-ID"])
    assert all(len(ids) == 1 for ids in ids_by_address.values()), \
        "a repeated message keeps its Message-ID"


@pytest.mark.django_db(transaction=True)
def test_sigterm_drains_without_duplicates(relay):
    delivery = delivery_in_progress()
    first = start_worker(relay.port)
    wait_for(lambda: len(relay.messages) >= RECIPIENTS // 3, 60, "the first messages")
    first.send_signal(signal.SIGTERM)
    output, _ = first.communicate(timeout=30)
    assert first.returncode == 0, output.decode()
    rows = SendingLog.objects.filter(delivery=delivery)
    assert not rows.filter(status="pending", lease_until__isnull=False).exists(), \
        "the batch in hand was recorded before exiting"
    assert rows.filter(status="sent").count() == len(relay.messages) < RECIPIENTS

    second = start_worker(relay.port)
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output.decode()
    received = Counter(message.rcpt_to[0] for message in relay.messages)
    assert len(received) == RECIPIENTS and set(received.values()) == {1}, "no duplicates"
    assert set(rows.values_list("status", flat=True)) == {"sent"}
