"""PostgreSQL restarts in the middle of a send; the workers reconnect and finish it.

The machine's shared cluster carries every other test's database, so this scenario
makes a cluster of its own (``tests/support/pgcluster.py``), migrates and seeds it in
child processes, and restarts it (``pg_ctl restart -m fast``: every session is ended)
twice while two real workers send. A worker whose batch was sent but could not be
recorded has its rows sent again once its lease runs out: at most one batch per worker
per restart, with the same Message-ID.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from tests.support.fault_runs import (
    Figures,
    PsycopgLedger,
    WorkerFleet,
    delivery_status,
    final_rows,
    recipients_from_env,
    run_until_terminal,
    terminal_count,
    verdict,
    worker_env,
)
from tests.support.faulty_smtpd import FaultySmtpServer
from tests.support.pgcluster import ThrowawayCluster, server_binaries

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(server_binaries() is None, reason="needs PostgreSQL server binaries"),
]

RECIPIENTS = recipients_from_env(10_000) // 2
WORKERS = 2
BATCH = 200
LEASE_SECONDS = 5
RESTART_WINDOWS = ((0.2, 0.4), (0.5, 0.7))  # shares of the rows terminal (seeded)
SECRET_KEY = "fault-injection-secret-key-0123456789abcdef"


class RestartMidSend:
    """Restarts the cluster when the send passes a mark drawn in each restart window."""

    def __init__(self, cluster: ThrowawayCluster, ledger: PsycopgLedger, delivery_id: int,
                 rng: random.Random):
        self.cluster, self.ledger, self.delivery_id = cluster, ledger, delivery_id
        self.marks = [int(rng.uniform(*window) * RECIPIENTS) for window in RESTART_WINDOWS]
        self.count = 0

    def __call__(self, fleet: WorkerFleet, now: float) -> None:
        if not self.marks:
            return
        if terminal_count(self.ledger, self.delivery_id) >= self.marks[0]:
            self.marks.pop(0)
            self.ledger.close()
            self.cluster.restart()
            self.count += 1


def envoi(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_workers_finish_the_send_across_database_restarts(seed, tmp_path):
    with ThrowawayCluster() as cluster, FaultySmtpServer() as relay:
        url = cluster.create_database("envoi")
        env = worker_env(url, f"smtp://127.0.0.1:{relay.port}?pool=2", secret_key=SECRET_KEY,
                         base_url="https://mail.example.com", lease_seconds=LEASE_SECONDS,
                         batch_size=BATCH)
        env["ENVOI_DATA_DIR"] = str(tmp_path)
        envoi(env, "envoi", "migrate")
        delivery_id = int(envoi(env, "tests.support.fault_seed", str(RECIPIENTS)))
        ledger = PsycopgLedger(url)
        restarts = RestartMidSend(cluster, ledger, delivery_id, random.Random(seed))
        fleet = WorkerFleet(WORKERS, env, tmp_path)
        try:
            run = run_until_terminal(ledger, delivery_id, RECIPIENTS, fleet, relay,
                                     chaos=restarts, timeout=60 + RECIPIENTS / 25)
            rows = final_rows(ledger, delivery_id)
            status = delivery_status(ledger, delivery_id)
        finally:
            ledger.close()
    result = verdict(rows, relay.accepted, relay.message_ids)
    bound = restarts.count * WORKERS * BATCH
    Figures("postgres-restart", RECIPIENTS, f"{restarts.count} restarts", result.lost,
            result.duplicated, f"{restarts.count}×{WORKERS}×{BATCH}", run, seed).report()

    assert restarts.count == len(RESTART_WINDOWS), "the send ended before the restarts"
    assert not fleet.crashed, fleet.crash_report()
    assert result.not_terminal == [], "every recipient ends with one terminal status"
    assert result.missing_at_server == [], "every row marked sent reached the server"
    assert result.unknown_at_server == []
    assert result.duplicated <= bound
    assert result.changed_message_id == [], "a repeat keeps its Message-ID"
    assert status == "finished"
