"""The SMS channel under faults, with real worker processes and the smpp34 SMSC.

Each scenario sends to fresh numbers through two ``envoi worker`` processes and checks
the ledger against what the SMSC received: every row ends terminal, every row marked
sent or delivered reached the SMSC, and copies stay within the bound of the fault:

- the SMSC drops every session mid-window: at most the window per connection again;
- it answers ESME_RTHROTTLED in bursts: nothing twice, nothing failed;
- it stalls (takes submit_sm and never answers): the session gives up after its
  timeout and sends them again on a new connection (the stalled ones were never taken);
- a worker is SIGKILLed mid-send: at most its in-flight batch again per kill.
"""

from __future__ import annotations

import random
import signal
import time

import pytest
from django.conf import settings

from tests.support.fault_runs import (
    DjangoLedger,
    Figures,
    KillSchedule,
    WorkerFleet,
    final_rows,
    recipients_from_env,
    run_until_terminal,
    worker_env,
)
from tests.support.processes import database_url
from tests.support.smsc import SmscHarness

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = recipients_from_env(10_000) // 4
WORKERS = 2
BATCH = 100
WINDOW = 10
LEASE_SECONDS = 10


def number(i: int) -> str:
    return f"+8210{20000000 + i}"


def sms_delivery_in_progress(recipients: int):
    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    create_profiles([{"phone": number(i), "first_name": f"R{i}"} for i in range(recipients)])
    audience = Audience.objects.create(name=f"sms faults {recipients}", filter="")
    delivery = services.create(
        boss(), label="sms faults", channel="sms", sender="Envoi",
        text_body="Hello {{ first_name }}, reply STOP to opt out", audience=audience,
        approval_required=False, max_retries=100, retry_delay_seconds=1)
    delivery = services.confirm(boss(), services.prepare(boss(), delivery))
    assert delivery.to_deliver == recipients, list(
        delivery.preparation_messages.values_list("message", flat=True))
    return delivery


def run(smsc: SmscHarness, tmp_path, chaos=None):
    delivery = sms_delivery_in_progress(RECIPIENTS)
    env = worker_env(database_url(), "smtp://127.0.0.1:9", secret_key=settings.SECRET_KEY,
                     base_url=settings.ENVOI_BASE_URL, lease_seconds=LEASE_SECONDS,
                     batch_size=BATCH,
                     ENVOI_SMPP_URL=f"{smsc.url}?window={WINDOW}&timeout=2")
    fleet = WorkerFleet(WORKERS, env, tmp_path)
    outcome = run_until_terminal(DjangoLedger(), delivery.pk, RECIPIENTS, fleet, smsc,
                                 chaos=chaos, timeout=60 + RECIPIENTS / 20)
    rows = final_rows(DjangoLedger(), delivery.pk)
    copies = smsc.copies()
    statuses = {row.status for row in rows}
    lost = [row.address for row in rows
            if row.status in ("sent", "delivered") and not copies[row.address.lstrip("+")]]
    not_terminal = [row.address for row in rows if row.status == "pending"]
    duplicated = sum(count - 1 for count in copies.values() if count > 1)
    return fleet, outcome, rows, statuses, len(lost) + len(not_terminal), duplicated


@pytest.fixture
def smsc():
    server = SmscHarness()
    yield server
    server.stop()


class Every:
    """Calls ``action`` every ``seconds`` of the run, at most ``times`` times."""

    def __init__(self, seconds: float, times: int, action):
        self.seconds, self.times, self.action = seconds, times, action
        self.count = 0
        self.next_at = time.monotonic() + seconds

    def __call__(self, fleet, now: float) -> None:
        if self.count < self.times and now >= self.next_at:
            self.action()
            self.count += 1
            self.next_at = now + self.seconds


def test_sessions_dropped_mid_window(smsc, tmp_path, seed):
    drops = Every(0.7, 4, smsc.unbind_all)
    fleet, outcome, rows, statuses, lost, duplicated = run(smsc, tmp_path, drops)
    bound = drops.count * WORKERS * WINDOW
    Figures("sms-dropped-sessions", RECIPIENTS, f"{drops.count} drops of every session",
            lost, duplicated, str(bound), outcome, seed).report()
    assert not fleet.crashed, fleet.crash_report()
    assert lost == 0
    assert duplicated <= bound
    assert statuses <= {"sent", "delivered"}


def test_throttling_slows_down_and_loses_nothing(smsc, tmp_path, seed):
    def burst() -> None:
        smsc.throttle_next = 50

    bursts = Every(0.5, 6, burst)
    fleet, outcome, rows, statuses, lost, duplicated = run(smsc, tmp_path, bursts)
    Figures("sms-throttled", RECIPIENTS, f"{smsc.throttled} ESME_RTHROTTLED answers",
            lost, duplicated, "0", outcome, seed).report()
    assert not fleet.crashed, fleet.crash_report()
    assert smsc.throttled > 0
    assert lost == 0 and duplicated == 0
    assert statuses <= {"sent", "delivered"}


def test_a_stalled_smsc(smsc, tmp_path, seed):
    stalls = {"count": 0}

    def stall(fleet, now: float) -> None:
        if stalls["count"] == 0 and len(smsc.submitted) > RECIPIENTS // 4:
            smsc.stall = True
            stalls["count"] = 1
            stalls["until"] = now + 3
        elif stalls["count"] == 1 and now > stalls["until"]:
            smsc.release_stall()
            stalls["count"] = 2

    fleet, outcome, rows, statuses, lost, duplicated = run(smsc, tmp_path, stall)
    Figures("sms-stalled", RECIPIENTS, "a 3 s stall", lost, duplicated, "0", outcome,
            seed).report()
    assert stalls["count"] == 2
    assert not fleet.crashed, fleet.crash_report()
    assert lost == 0 and duplicated == 0  # what stalled was never taken
    assert statuses <= {"sent", "delivered"}


def test_workers_killed_mid_send(smsc, tmp_path, seed):
    kills = KillSchedule(random.Random(seed), signal.SIGKILL, 0.5, 1.5)
    fleet, outcome, rows, statuses, lost, duplicated = run(smsc, tmp_path, kills)
    bound = kills.count * BATCH
    Figures("sms-sigkill", RECIPIENTS, f"{kills.count} SIGKILLs", lost, duplicated,
            f"{kills.count}×{BATCH}", outcome, seed).report()
    assert kills.count > 0
    assert lost == 0
    assert duplicated <= bound
