"""Periodic jobs, run by the workers: each run happens once, whatever their number.

A job is registered by name with an interval. Every worker calls
:meth:`JobRunner.tick` from its loop; at most every few seconds that calls
:func:`run_due_jobs`, which *claims* each due job with one conditional UPDATE::

    UPDATE reporting_periodicjob SET next_run_at = now + interval, ...
    WHERE name = %s AND next_run_at <= now

Only the worker whose UPDATE changed the row runs the job: two workers can never both
claim the same run, on any database. On PostgreSQL the workers also take a session
advisory lock first, so that one worker at a time runs periodic jobs (the others skip
this tick and never wait). The claim is committed before the job runs: a job that fails
is logged and runs again at its next due time, rather than being retried by every
worker in a tight loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from envoi.ops import metrics

log = logging.getLogger("envoi.periodic")

# Any fixed 64-bit number, the same in every worker: "envoi periodic jobs".
ADVISORY_LOCK_KEY = 0x656E766F69_0001
CHECK_EVERY = timedelta(seconds=5)


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[], timedelta]  # read at each claim, so settings apply at once
    run: Callable[[datetime], object]


JOBS: dict[str, Job] = {}


def register(name: str, interval: Callable[[], timedelta],
             run: Callable[[datetime], object]) -> Job:
    """Add (or replace) the job called ``name``; apps register theirs when ready."""
    job = JOBS[name] = Job(name, interval, run)
    return job


def run_due_jobs(now: datetime, worker_id: str) -> list[str]:
    """Run every job due at ``now`` that this worker claims; the names of those run."""
    ran: list[str] = []
    with one_runner_at_a_time() as allowed:
        for job in list(JOBS.values()) if allowed else []:
            if _claim(job, now, worker_id):
                _run(job, now)
                ran.append(job.name)
    return ran


def _claim(job: Job, now: datetime, worker_id: str) -> bool:
    with connection.cursor() as cursor:
        # A new job is due at once; an existing row is left as it is.
        cursor.execute(
            "INSERT INTO reporting_periodicjob (name, next_run_at, last_worker) "
            "VALUES (%s, %s, '') ON CONFLICT (name) DO NOTHING", [job.name, now])
        cursor.execute(
            "UPDATE reporting_periodicjob SET next_run_at = %s, last_run_at = %s, "
            "last_worker = %s WHERE name = %s AND next_run_at <= %s",
            [now + job.interval(), now, worker_id[:64], job.name, now])
        return cursor.rowcount == 1


def _run(job: Job, now: datetime) -> None:
    started, result = time.monotonic(), "ok"
    try:
        job.run(now)
    except Exception:  # one failing job must neither stop sending nor the other jobs
        result = "failed"
        log.exception("periodic job %s failed; it runs again at its next due time", job.name)
    metrics.JOB_RUNS.labels(job.name, result).inc()
    metrics.JOB_DURATION.labels(job.name).observe(time.monotonic() - started)


@contextmanager
def one_runner_at_a_time() -> Iterator[bool]:
    """On PostgreSQL, hold the periodic-jobs advisory lock if it is free (yield whether
    it was); elsewhere always yield True: SQLite serializes writers anyway."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


class JobRunner:
    """A worker's periodic-job check, cheap enough for every loop iteration: it looks
    at the database at most once per ``check_every`` of the worker's clock."""

    def __init__(self, worker_id: str, check_every: timedelta = CHECK_EVERY):
        self.worker_id = worker_id
        self.check_every = check_every
        self.last_check: datetime | None = None

    def tick(self, now: datetime) -> list[str]:
        if self.last_check is not None and now - self.last_check < self.check_every:
            return []
        self.last_check = now
        return run_due_jobs(now, self.worker_id)


def kpi_refresh_interval() -> timedelta:
    return timedelta(seconds=settings.ENVOI_KPI_REFRESH_SECONDS)


def register_builtin_jobs() -> None:
    from envoi.reporting.kpis import refresh_recent

    register("kpi_refresh", kpi_refresh_interval, refresh_recent)
