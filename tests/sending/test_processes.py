"""``envoi worker --processes N``: N real worker processes share a delivery, and a
SIGTERM to the command drains them all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from django.conf import settings

from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.support.deliveries import boss, prepared_delivery
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def worker_command(relay, *args: str) -> subprocess.Popen:
    env = dict(os.environ, ENVOI_DATABASE_URL=database_url(),
               ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}?pool=2",
               ENVOI_SECRET_KEY=settings.SECRET_KEY, ENVOI_BATCH_SIZE="20")
    return subprocess.Popen([sys.executable, "-m", "envoi", "worker", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_processes_share_a_delivery(relay):
    delivery = services.confirm(boss(), prepared_delivery("p", 400))
    command = worker_command(relay, "--processes", "2", "--until-idle")
    output = command.communicate(timeout=120)[0]
    assert command.returncode == 0, output
    assert output.count("messages processed") == 2, output
    rows = SendingLog.objects.filter(delivery=delivery)
    assert Counter(rows.values_list("status", flat=True)) == {"sent": 400}
    assert sorted(m.rcpt_to[0] for m in relay.messages) == sorted(
        f"p{i}@example.com" for i in range(400))


def test_sigterm_stops_every_process(relay):
    command = worker_command(relay, "--processes", "2")
    with contextlib.suppress(subprocess.TimeoutExpired):
        command.wait(timeout=3)  # they keep polling for work
    assert command.poll() is None
    command.send_signal(signal.SIGTERM)
    output = command.communicate(timeout=30)[0]
    assert command.returncode == 0, output
    assert output.count("Traceback") == 0, output
