"""``envoi upgrade``: check, apply the migrations the database lacks, report. Run on a
database one migration behind (the workers' heartbeat table rolled back)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from envoi.ops.health import readiness
from envoi.ops.models import WorkerHeartbeat
from tests.ops.running import envoi_process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_migration_behind():
    call_command("migrate", "ops", "zero", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", verbosity=0)  # whatever the test did


def has_heartbeat_table() -> bool:
    return "ops_workerheartbeat" in connection.introspection.table_names()


def run_upgrade(*args: str, **env: str) -> tuple[int, str]:
    process = envoi_process("upgrade", *args, **env)
    output = process.communicate(timeout=300)[0]
    return process.returncode, output


def test_upgrade_applies_what_is_missing_and_reports(one_migration_behind):
    assert not readiness().ready
    code, output = run_upgrade("--dry-run")
    assert code == 0, output
    assert "Would apply 1 migrations: ops.0001_initial" in output
    assert not has_heartbeat_table()

    code, output = run_upgrade()
    assert code == 0, output
    lines = output.splitlines()
    assert lines[-2].startswith("Applied 1 migrations in ")
    assert lines[-2].endswith(" s: ops.0001_initial")
    assert lines[-1] == "Database ready for release 0.1.0."
    assert has_heartbeat_table() and readiness().ready

    code, output = run_upgrade("--language", "ja")
    assert code == 0, output
    assert "適用するマイグレーションはありません。データベースは最新です。" in output


def test_workers_of_another_release_are_named():
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="old:1:1", host="mx-old", pid=1,
                                   version="0.0.9", started_at=now, last_seen_at=now)
    code, output = run_upgrade()
    assert code == 0, output
    assert ("Workers of release 0.0.9 still run on mx-old: restart them with this release."
            in output)


def test_a_configuration_this_release_cannot_read_stops_it(one_migration_behind):
    code, output = run_upgrade(ENVOI_METRICS_ALLOW="10.0.0.0/8 intranet")
    assert code == 1
    assert output.splitlines()[-1] == (
        "Upgrade stopped before any change: ENVOI_METRICS_ALLOW is not valid: "
        "ENVOI_METRICS_ALLOW: 'intranet' is not an address or a network (e.g. 10.0.0.0/8)")
    assert not has_heartbeat_table()


@pytest.mark.postgres_only
def test_two_hosts_upgrading_at_once_migrate_once(one_migration_behind):
    first, second = envoi_process("upgrade"), envoi_process("upgrade")
    outputs = [first.communicate(timeout=300)[0], second.communicate(timeout=300)[0]]
    assert first.returncode == second.returncode == 0, outputs
    applied = [o for o in outputs if "Applied 1 migrations" in o]
    assert len(applied) == 1, outputs
    assert sum("No migration to apply" in o for o in outputs) == 1, outputs
