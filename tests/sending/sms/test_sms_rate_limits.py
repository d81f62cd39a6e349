"""Rate limits of SMS deliveries hold across worker processes: two real ``envoi
worker`` processes send into the SMPP server of the smpp34 library, which notes when
it took each submit_sm, and the most it took in any one-second window stays within the
bound: the delivery's ``rate_limit`` (the cross-worker ledger of
``sending/ratelimit.py``), the SMSC's ``rate=`` per connection (its own cell of the
same ledger), and ``max_binds`` (sessions bound to the SMSC across the workers).
On SQLite and on PostgreSQL; each run prints what it measured."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.support.fault_runs import (
    DjangoLedger,
    WorkerFleet,
    final_rows,
    run_until_terminal,
    worker_env,
)
from tests.support.processes import database_url
from tests.support.smsc import SmscHarness

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 2


def delivery_in_progress(recipients: int, prefix: int, rate_limit: int = 0):
    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    create_profiles([{"phone": f"+8210{prefix + i}", "first_name": f"R{i}"}
                     for i in range(recipients)])
    audience = Audience.objects.create(name=f"rate {prefix}", filter="")
    delivery = services.create(
        boss(), label="sms rate", channel="sms", sender="Envoi", rate_limit=rate_limit,
        text_body="Hello {{ first_name }}, reply STOP to opt out", audience=audience,
        approval_required=False)
    delivery = services.confirm(boss(), services.prepare(boss(), delivery))
    assert delivery.to_deliver == recipients, list(
        delivery.preparation_messages.values_list("message", flat=True))
    return delivery


def send(smsc: SmscHarness, tmp_path, delivery, query: str, batch_size: int = 50) -> None:
    env = worker_env(database_url(), "smtp://127.0.0.1:9", secret_key=settings.SECRET_KEY,
                     base_url=settings.ENVOI_BASE_URL, lease_seconds=10,
                     batch_size=batch_size,
                     ENVOI_SMPP_URL=f"{smsc.url}?{query}")
    fleet = WorkerFleet(WORKERS, env, tmp_path)
    run_until_terminal(DjangoLedger(), delivery.pk, delivery.to_deliver, fleet, smsc,
                       timeout=60)
    assert not fleet.crashed, fleet.crash_report()
    rows = final_rows(DjangoLedger(), delivery.pk)
    # A worker that leaves once idle may leave before its last receipts: sent, then.
    assert {row.status for row in rows} <= {"sent", "delivered"}
    assert len(smsc.submitted) == delivery.to_deliver  # one part each, none twice


def busiest_second(smsc: SmscHarness) -> int:
    """The most submit_sm the SMSC took in any window of one second."""
    times = sorted(submitted.at for submitted in smsc.submitted)
    end, most = 0, 0
    for start, at in enumerate(times):
        while end < len(times) and times[end] < at + 1.0:
            end += 1
        most = max(most, end - start)
    return most


def report(name: str, smsc: SmscHarness, bound: float) -> int:
    times = sorted(submitted.at for submitted in smsc.submitted)
    busiest = busiest_second(smsc)
    span = times[-1] - times[0]
    print(f"\nsms-rate[{name}]: {len(times)} submit_sm over {span:.2f} s "
          f"({(len(times) - 1) / span:.1f}/s), busiest second {busiest} (bound {bound:g}), "
          f"{len({s.session for s in smsc.submitted})} sessions, load "
          f"{os.getloadavg()[0]:.2f}")
    return busiest


def test_a_delivery_rate_limit_holds_across_two_workers(smsc, tmp_path):
    delivery = delivery_in_progress(100, 20_000_000, rate_limit=20)
    send(smsc, tmp_path, delivery, "window=10")
    busiest = report("delivery 20/s", smsc, 21)
    # The ledger's bound (rate × 1 s + 1), and what 100 ms of lag between a message's
    # slot and its submit_sm (the session's poll, a busy machine) can carry: 2 more.
    assert busiest <= 21 + 2
    assert len({submitted.session for submitted in smsc.submitted}) == WORKERS


def test_the_smsc_rate_per_connection_holds_across_two_workers(smsc, tmp_path):
    delivery = delivery_in_progress(80, 30_000_000)
    send(smsc, tmp_path, delivery, "window=10&rate=10", batch_size=10)
    busiest = report("smsc 10/s", smsc, 11)
    assert busiest <= 11 + 1  # rate × 1 s + 1, and what a late slot (50 ms) carries
    # Both workers sent: without the shared cell, they would have sent 20 a second.
    assert len({submitted.session for submitted in smsc.submitted}) == WORKERS


def test_binds_to_an_smsc_are_capped_across_workers(smsc, tmp_path):
    delivery = delivery_in_progress(40, 40_000_000)
    send(smsc, tmp_path, delivery, "window=10&connections=2&max_binds=1")
    report("max_binds 1", smsc, 0)
    assert smsc.most_sessions == 1
