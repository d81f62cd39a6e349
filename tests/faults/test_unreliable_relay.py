"""A relay that misbehaves in every way a real one does; Envoi still ends every row right.

The relay (``tests/support/faulty_smtpd.py``) answers each transaction, seeded at
random: 421 or 451 (transient: Envoi retries), 550 5.1.1 (permanent: the row fails
hard and is not retried), hangs up in the middle of DATA, or stalls without ever
answering (a tarpit: the client gives up on its 2 s timeout). Two real workers send
with retries one second apart and enough of them for every transient failure to end
sent. Nobody is killed, so nothing may arrive twice.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.support.fault_runs import (
    DjangoLedger,
    Figures,
    WorkerFleet,
    delivery_status,
    final_rows,
    recipients_from_env,
    run_until_terminal,
    verdict,
    worker_env,
)
from tests.support.fault_seed import delivery_in_progress
from tests.support.faulty_smtpd import Fault, FaultPlan, FaultySmtpServer
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = recipients_from_env(10_000) // 5
WORKERS = 2
BATCH = 50  # a tarpit holds a batch up for the client timeout: keep batches small
LEASE_SECONDS = 20  # outlasts a batch that meets a tarpit
RATES = {
    Fault.TEMPFAIL_421: 0.02,
    Fault.TEMPFAIL_451: 0.04,
    Fault.HARD_550: 0.02,
    Fault.DROP_MID_DATA: 0.03,
    Fault.TARPIT: 0.004,
}


def test_every_row_ends_right_whatever_the_relay_answers(seed, tmp_path):
    delivery = delivery_in_progress(RECIPIENTS, max_retries=100, retry_delay_seconds=1)
    with FaultySmtpServer(FaultPlan(seed, RATES)) as relay:
        env = worker_env(database_url(), f"smtp://127.0.0.1:{relay.port}?timeout=2&pool=2",
                         secret_key=settings.SECRET_KEY, base_url=settings.ENVOI_BASE_URL,
                         lease_seconds=LEASE_SECONDS, batch_size=BATCH)
        fleet = WorkerFleet(WORKERS, env, tmp_path)
        ledger = DjangoLedger()
        run = run_until_terminal(ledger, delivery.pk, RECIPIENTS, fleet, relay,
                                 timeout=60 + RECIPIENTS / 10)
    rows = final_rows(ledger, delivery.pk)
    result = verdict(rows, relay.accepted, relay.message_ids)
    injected = " ".join(f"{fault}×{relay.injected[fault]}" for fault in Fault)
    injected += f", {fleet.started - WORKERS} worker restarts"
    Figures("unreliable-relay", RECIPIENTS, injected, result.lost, result.duplicated, "0",
            run, seed).report()

    assert not fleet.crashed, fleet.crash_report()
    assert all(relay.injected[fault] for fault in Fault), f"a fault never came up: {injected}"
    assert result.not_terminal == [], "every recipient ends with one terminal status"
    assert result.missing_at_server == [], "every row marked sent reached the server"
    assert result.unknown_at_server == []
    assert result.duplicated == 0, "refused or broken-off transactions deliver nothing"
    refused_for_good = relay.refused_with(Fault.HARD_550)
    failed = {row.address: row for row in rows if row.status == "failed"}
    assert set(failed) == refused_for_good, \
        "exactly the addresses answered 550 fail; every transient failure ends sent"
    assert {(row.failure_type, row.failure_reason) for row in failed.values()} == \
        {("hard", "user_unknown")}
    assert all(relay.history(address)[-1] is Fault.HARD_550 for address in refused_for_good), \
        "a 550 is final: the address is never tried again"
    assert delivery_status(ledger, delivery.pk) == "finished"
