"""``envoi upgrade``: check, migrate, report — the procedure of docs/OPERATIONS.md.

1. **Check**: everything ``envoi check`` looks at. A configuration this release cannot
   read stops the upgrade before the database is touched; the other findings are
   reported (a relay down today does not make the schema wrong).
2. **Migrate**: the migrations this release has and the database lacks, in order. On
   PostgreSQL an advisory lock makes a second ``envoi upgrade`` (another host started
   at the same time) wait for the first, then find nothing left to do. Workers of the
   previous release may go on sending meanwhile: a release's migrations only add
   (tables, nullable or defaulted columns, indexes), and what a release stops using is
   dropped no sooner than the release after.
3. **Report**: what was applied and how long it took, whether the database is ready,
   and the workers still running another release.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

import envoi
from envoi.ops import check
from envoi.ops.health import one_line, readiness

# Any fixed 64-bit number, the same in every release: "envoi upgrade".
UPGRADE_LOCK_KEY = 0x656E766F69_0002


@dataclass
class UpgradeReport:
    findings: list[check.Finding] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ready: bool = False
    detail: str = ""
    other_releases: dict[str, list[str]] = field(default_factory=dict)  # version → hosts
    stopped_by: str = ""

    @property
    def ok(self) -> bool:
        return not self.stopped_by and self.ready


def pending_migrations() -> list[str]:
    """The migrations this release would apply, in order (``app.name``)."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, backwards in plan
            if not backwards]


def upgrade(*, dry_run: bool = False, plan: check.Plan | None = None) -> UpgradeReport:
    report = UpgradeReport()
    plan = plan or check.Plan()
    report.findings = list(check.check_configuration(plan))
    broken = [f.message for f in report.findings if f.verdict == check.ERROR]
    if broken:
        report.stopped_by = broken[0]
        return report
    report.findings += [finding for run in UPGRADE_CHECKS for finding in run(plan)]
    try:
        with one_upgrade_at_a_time():
            report.planned = pending_migrations()
            if report.planned and not dry_run:
                started = time.monotonic()
                call_command("migrate", interactive=False, verbosity=0)
                report.seconds = time.monotonic() - started
                report.applied = report.planned
    except DatabaseError as error:
        report.stopped_by = f"database: {one_line(error)[:300]}"
        return report
    state = readiness()
    report.ready, report.detail = state.ready, state.detail
    report.other_releases = other_releases()
    return report


@contextmanager
def one_upgrade_at_a_time() -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield  # SQLite: one host, and its writers are serialized anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [UPGRADE_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [UPGRADE_LOCK_KEY])


def other_releases() -> dict[str, list[str]]:
    """Hosts whose live workers run another release than this one, by release."""
    from envoi.ops.queries import workers

    found: dict[str, set[str]] = {}
    try:
        running = workers()
    except DatabaseError:  # a dry run on a database older than the heartbeats
        return {}
    for worker in running:
        if not worker.lost and worker.version != envoi.__version__:
            found.setdefault(worker.version, set()).add(worker.host)
    return {version: sorted(hosts) for version, hosts in sorted(found.items())}


# The database line is the upgrade's own: before it, missing migrations are expected.
UPGRADE_CHECKS = [check.check_relays, check.check_secret_key, check.check_https,
                  check.check_clock]
