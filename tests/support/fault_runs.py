"""Running a send through real ``envoi worker`` processes while something goes wrong.

The pieces of every fault-injection scenario (``tests/faults``):

* :class:`WorkerFleet` keeps a number of ``envoi worker --until-idle`` processes
  running, signals a random one when the scenario says so, and starts a replacement;
* a *ledger* reads the sending log, either through the test's own Django connection
  (:class:`DjangoLedger`) or through psycopg to another database (:class:`PsycopgLedger`,
  which survives that database's restarts);
* :func:`run_until_terminal` polls the ledger until every row is terminal, measuring the
  longest interval in which no row became terminal;
* :func:`verdict` compares the final ledger with what the SMTP server received and
  :class:`Figures` prints the one comparable line of the run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TERMINAL = ("sent", "delivered", "failed", "ignored")
POLL_SECONDS = 0.2
REPORTED: list[str] = []
"""Every figures line of this pytest run, for the terminal summary (tests/faults/conftest)."""


# Workers ---------------------------------------------------------------------------------


def worker_env(database_url: str, smtp_url: str, *, secret_key: str, base_url: str,
               lease_seconds: int, batch_size: int, **extra: str) -> dict[str, str]:
    return dict(os.environ, ENVOI_DATABASE_URL=database_url, ENVOI_SMTP_URL=smtp_url,
                ENVOI_SECRET_KEY=secret_key, ENVOI_BASE_URL=base_url,
                ENVOI_LEASE_SECONDS=str(lease_seconds), ENVOI_BATCH_SIZE=str(batch_size),
                **extra)


class WorkerFleet:
    """``size`` worker processes, each logging to its own file under ``log_dir``.

    A worker that exits by itself (``--until-idle`` found nothing due: the rows left
    are leased by someone else or wait for a retry) is replaced while the run lasts; one
    that exits with an error is also kept in :attr:`crashed`, because no fault the
    suite injects into the relay or the database should crash a worker.
    """

    def __init__(self, size: int, env: dict[str, str], log_dir: Path):
        self.size = size
        self.env = env
        self.log_dir = log_dir
        self.live: list[subprocess.Popen] = []
        self.signalled: list[subprocess.Popen] = []
        self.crashed: list[subprocess.Popen] = []
        self.started = 0
        self.logs: dict[subprocess.Popen, Path] = {}

    def start(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def signal_random(self, rng: random.Random, sig: signal.Signals) -> None:
        """Send ``sig`` to a random running worker and start its replacement."""
        victim = rng.choice(self.live)
        victim.send_signal(sig)
        self.live.remove(victim)
        self.signalled.append(victim)
        if sig == signal.SIGKILL:
            victim.wait(10)
        self._spawn()

    def replace_exited(self) -> None:
        for process in [p for p in self.live if p.poll() is not None]:
            self.live.remove(process)
            if process.returncode != 0:
                self.crashed.append(process)
            self._spawn()

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM whatever still runs and wait for every worker, signalled ones too."""
        for process in self.live:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.live + self.signalled:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.crashed.append(process)
        self.live = []

    def kill_all(self) -> None:
        """Last resort when a test fails: leave no worker behind."""
        for process in self.live + self.signalled:
            if process.poll() is None:
                process.kill()
                process.wait()

    def log_tail(self, process: subprocess.Popen, lines: int = 30) -> str:
        text = self.logs[process].read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def crash_report(self) -> str:
        return "\n\n".join(f"worker {p.pid} exited with {p.returncode}:\n{self.log_tail(p)}"
                           for p in self.crashed)

    def _spawn(self) -> None:
        self.started += 1
        log_path = self.log_dir / f"worker-{self.started}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "envoi", "worker", "--until-idle"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.logs[process] = log_path
        self.live.append(process)


class KillSchedule:
    """Signals a random worker every ``low``–``high`` seconds (seeded), replacing it."""

    def __init__(self, rng: random.Random, sig: signal.Signals, low: float = 1.0,
                 high: float = 3.0):
        self.rng, self.sig, self.low, self.high = rng, sig, low, high
        self.count = 0
        self.next_at = time.monotonic() + rng.uniform(low, high)

    def __call__(self, fleet: WorkerFleet, now: float) -> None:
        if now < self.next_at:
            return
        fleet.signal_random(self.rng, self.sig)
        self.count += 1
        self.next_at = now + self.rng.uniform(self.low, self.high)


# Reading the sending log -------------------------------------------------------------------


class Ledger(Protocol):
    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]: ...


class DjangoLedger:
    """The test's own database, through Django's connection (SQLite or PostgreSQL)."""

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


class PsycopgLedger:
    """Another PostgreSQL database; reconnects after the server went away."""

    def __init__(self, url: str):
        self.url = url
        self._connection: Any = None

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            return self._connection.execute(sql, params).fetchall()
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def terminal_count(ledger: Ledger, delivery_id: int | Sequence[int]) -> int:
    """Terminal rows of one delivery, or of several together."""
    ids = [delivery_id] if isinstance(delivery_id, int) else list(delivery_id)
    marks = ", ".join(["%s"] * len(ids))
    return ledger.fetch(f"SELECT count(*) FROM sending_sendinglog WHERE delivery_id IN "
                        f"({marks}) AND status <> 'pending'", ids)[0][0]


@dataclass(frozen=True)
class Row:
    address: str
    status: str
    failure_type: str
    failure_reason: str
    message_id: str


def final_rows(ledger: Ledger, delivery_id: int) -> list[Row]:
    return [Row(*values) for values in ledger.fetch(
        "SELECT address, status, failure_type, failure_reason, message_id "
        "FROM sending_sendinglog WHERE delivery_id = %s", [delivery_id])]


def delivery_status(ledger: Ledger, delivery_id: int) -> str:
    return ledger.fetch("SELECT status FROM deliveries_delivery WHERE id = %s",
                        [delivery_id])[0][0]


# One run ----------------------------------------------------------------------------------


class ProgressMeter:
    """The longest interval in which the count of terminal rows did not move, once the
    first row became terminal (the workers' start-up is the same in every run and would
    hide the stalls the faults cause)."""

    def __init__(self) -> None:
        self.last_change: float | None = None
        self.last_count = 0
        self.longest = 0.0

    def note(self, count: int, now: float) -> None:
        if count == self.last_count:
            return
        if self.last_change is not None:
            self.longest = max(self.longest, now - self.last_change)
        self.last_change, self.last_count = now, count

    def finish(self, now: float) -> None:
        if self.last_change is not None:
            self.longest = max(self.longest, now - self.last_change)


Chaos = Callable[[WorkerFleet, float], None]


class Relay(Protocol):
    def cpu_seconds(self) -> float: ...


@dataclass
class Run:
    stalled: float
    elapsed: float
    relay_busy: float
    """Share of the run's wall time the SMTP server's thread was on a CPU: near 1.0, the
    test's relay, not Envoi, set the pace."""


def run_until_terminal(ledger: Ledger, delivery_id: int | Sequence[int], recipients: int,
                       fleet: WorkerFleet, relay: Relay, *, chaos: Chaos | None = None,
                       timeout: float = 240) -> Run:
    """Start the fleet and keep it going, with ``chaos`` called at every poll, until
    every row of the delivery is terminal; then stop the fleet."""
    started = time.monotonic()
    relay_cpu = relay.cpu_seconds()
    meter = ProgressMeter()
    fleet.start()
    try:
        while True:
            now = time.monotonic()
            count = _terminal_or_none(ledger, delivery_id)
            if count is not None:
                meter.note(count, now)
                if count == recipients:
                    break
            assert now - started < timeout, (
                f"{count} of {recipients} rows terminal after {timeout} s; "
                f"worker logs in {fleet.log_dir}")
            fleet.replace_exited()
            if chaos is not None:
                chaos(fleet, now)
            time.sleep(POLL_SECONDS)
        meter.finish(time.monotonic())
        fleet.stop()
    finally:
        fleet.kill_all()
    elapsed = time.monotonic() - started
    return Run(meter.longest, elapsed, (relay.cpu_seconds() - relay_cpu) / elapsed)


def _terminal_or_none(ledger: Ledger, delivery_id: int | Sequence[int]) -> int | None:
    """The count, or None while the database cannot answer (it is being restarted)."""
    try:
        return terminal_count(ledger, delivery_id)
    except Exception as error:  # psycopg or Django's OperationalError, by design
        if "OperationalError" not in type(error).__name__:
            raise
        return None


# The verdict --------------------------------------------------------------------------------


@dataclass
class Verdict:
    recipients: int
    not_terminal: list[str] = field(default_factory=list)
    missing_at_server: list[str] = field(default_factory=list)
    unknown_at_server: list[str] = field(default_factory=list)
    changed_message_id: list[str] = field(default_factory=list)
    duplicated: int = 0

    @property
    def lost(self) -> int:
        return len(self.not_terminal) + len(self.missing_at_server)


def verdict(rows: list[Row], received: Counter[str],
            message_ids: Callable[[str], set[str]]) -> Verdict:
    """Ledger against server: every row terminal, every ``sent`` row at the server, and
    how many extra copies the server got (a repeat must keep its Message-ID)."""
    result = Verdict(recipients=len(rows))
    addresses = {row.address for row in rows}
    assert len(addresses) == len(rows), "one sending-log row per recipient"
    for row in rows:
        if row.status not in TERMINAL:
            result.not_terminal.append(row.address)
        elif row.status == "sent" and not received[row.address]:
            result.missing_at_server.append(row.address)
    result.unknown_at_server = sorted(set(received) - addresses)
    result.duplicated = sum(count - 1 for count in received.values() if count > 1)
    result.changed_message_id = [address for address, count in received.items()
                                 if count > 1 and len(message_ids(address)) != 1]
    return result


@dataclass
class Figures:
    scenario: str
    recipients: int
    events: str
    lost: int
    duplicated: int
    bound: str
    run: Run
    seed: int

    def report(self) -> None:
        """Print the line now (``-s``) and keep it for the end-of-run summary."""
        print(self.line())
        REPORTED.append(self.line())

    def line(self) -> str:
        rate = self.recipients / self.run.elapsed if self.run.elapsed else 0.0
        return (f"faults[{self.scenario}]: {self.recipients} recipients, {self.events}: "
                f"lost {self.lost}, duplicated {self.duplicated} (bound {self.bound}), "
                f"stalled {self.run.stalled:.1f} s, {self.run.elapsed:.1f} s "
                f"({rate:.0f} msg/s, relay busy {self.run.relay_busy:.0%}), seed {self.seed}")


def seed_from_env(default_name: str = "ENVOI_FAULTS_SEED") -> int:
    """``ENVOI_FAULTS_SEED`` replays a run; otherwise a fresh seed, printed with the figures."""
    value = os.environ.get(default_name)
    return int(value) if value else random.randrange(1 << 32)


def recipients_from_env(default: int) -> int:
    """``ENVOI_FAULTS_RECIPIENTS`` sets the size of the runs (the full size: 100000)."""
    return int(os.environ.get("ENVOI_FAULTS_RECIPIENTS") or default)
