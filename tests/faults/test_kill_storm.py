"""Workers die all the time; the send still ends with every recipient served once.

Three real ``envoi worker`` processes share one delivery on PostgreSQL. Every 1–3 s
(seeded; every 0.5–1.5 s for SIGTERM, whose drained workers hand over at once) one of
them, chosen at random, gets a signal and a replacement is started:

* SIGKILL: nothing is lost, and what is sent twice is at most one batch
  (``ENVOI_BATCH_SIZE``) per killed worker, with the same Message-ID — the bound
  docs/OPERATIONS.md promises ("What a crash costs");
* SIGTERM: the worker records the batch in hand before it exits, so nothing is sent
  twice.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from dataclasses import dataclass

import pytest
from django.conf import settings

from tests.support.fault_runs import (
    DjangoLedger,
    Figures,
    KillSchedule,
    Verdict,
    WorkerFleet,
    delivery_status,
    final_rows,
    recipients_from_env,
    run_until_terminal,
    verdict,
    worker_env,
)
from tests.support.fault_seed import delivery_in_progress
from tests.support.processes import database_url

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

RECIPIENTS = recipients_from_env(10_000)
WORKERS = 3
BATCH = 200  # ENVOI_BATCH_SIZE's default, and so the documented repeat bound per crash
LEASE_SECONDS = 10  # a killed worker's rows wait this long; a live one needs < 1 s a batch
SIGNAL_EVERY = {  # seconds between signals, drawn between the two
    signal.SIGKILL: (1.0, 3.0),
    # A drain loses no time to leases: the 10,000 of CI take ~5 s, so signal more often.
    signal.SIGTERM: (0.5, 1.5),
}


@dataclass
class Storm:
    result: Verdict
    signals: int
    fleet: WorkerFleet


def storm(sig: signal.Signals, scenario: str, sink, seed: int, log_dir) -> Storm:
    """Send to RECIPIENTS with WORKERS workers, signalling one every SIGNAL_EVERY[sig]."""
    delivery = delivery_in_progress(RECIPIENTS)
    env = worker_env(database_url(), f"smtp://127.0.0.1:{sink.port}?pool=2",
                     secret_key=settings.SECRET_KEY, base_url=settings.ENVOI_BASE_URL,
                     lease_seconds=LEASE_SECONDS, batch_size=BATCH)
    fleet = WorkerFleet(WORKERS, env, log_dir)
    schedule = KillSchedule(random.Random(seed), sig, *SIGNAL_EVERY[sig])
    ledger = DjangoLedger()
    run = run_until_terminal(ledger, delivery.pk, RECIPIENTS, fleet, sink, chaos=schedule,
                             timeout=60 + RECIPIENTS / 50)
    result = verdict(final_rows(ledger, delivery.pk), sink.accepted, sink.message_ids)
    bound = f"{schedule.count}×{BATCH}" if sig == signal.SIGKILL else "0"
    Figures(scenario, RECIPIENTS, f"{schedule.count} {sig.name}s", result.lost,
            result.duplicated, bound, run, seed).report()
    assert not fleet.crashed, fleet.crash_report()
    assert delivery_status(ledger, delivery.pk) == "finished"
    return Storm(result, schedule.count, fleet)


def test_sigkill_storm_loses_nothing_and_repeats_at_most_a_batch_per_kill(
        sink, seed, tmp_path):
    run = storm(signal.SIGKILL, "kill-storm", sink, seed, tmp_path)
    result = run.result

    assert run.signals >= 2, "the storm was too short to kill anything: raise the size"
    assert result.not_terminal == [], "every recipient ends with one terminal status"
    assert result.missing_at_server == [], "every row marked sent reached the server"
    assert result.unknown_at_server == []
    assert result.duplicated <= run.signals * BATCH, "at most one batch per crash"
    assert result.changed_message_id == [], "a repeat keeps its Message-ID"


def test_sigterm_storm_drains_without_duplicates(sink, seed, tmp_path):
    run = storm(signal.SIGTERM, "sigterm-drain", sink, seed, tmp_path)
    result = run.result

    assert run.signals >= 2, "the storm was too short to stop anything: raise the size"
    # Exit 0: drained and recorded its batch. -SIGTERM: stopped while starting up,
    # before it installed its handler, so before it could claim anything.
    codes = Counter(process.returncode for process in run.fleet.signalled)
    assert set(codes) <= {0, -signal.SIGTERM}, codes
    assert result.not_terminal == []
    assert result.missing_at_server == []
    assert result.unknown_at_server == []
    assert result.duplicated == 0, "a graceful stop records its batch: nothing twice"
