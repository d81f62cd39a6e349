"""An upgrade while a worker of the previous release is still sending: nothing lost,
nothing sent twice.

The previous release is the commit this release's migrations start from
(``PREVIOUS_RELEASE``): its source is taken from git into a temporary directory and
its worker runs from there, against a database made by its own migrations. While it
sends, ``envoi upgrade`` of this release migrates the database, then a worker of this
release joins in; both finish the delivery together.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.ops.running import envoi_process, stop, wait_until
from tests.support.deliveries import boss, prepared_delivery

pytestmark = pytest.mark.django_db(transaction=True)

PREVIOUS_RELEASE = "e1db083c0cf4be5d17d31a441c39841c9bd77442"
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def previous_release(tmp_path) -> Path:
    """The previous release's ``src`` directory."""
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(REPOSITORY), "cat-file", "-e", PREVIOUS_RELEASE],
            capture_output=True).returncode != 0:
        pytest.skip(f"needs the git history with {PREVIOUS_RELEASE[:7]}")
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", PREVIOUS_RELEASE,
                              "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    return tmp_path / "src"


def previous_targets(previous_src: Path) -> list[tuple[str, str]]:
    """(app, its last migration in the previous release, or "zero") for every app whose
    migrations this release extends: what the previous release's database had."""
    targets = []
    for migrations in sorted((REPOSITORY / "src" / "envoi").glob("*/migrations")):
        app = migrations.parent.name
        now = sorted(path.stem for path in migrations.glob("[0-9]*.py"))
        then = sorted(path.stem for path in
                      (previous_src / "envoi" / app / "migrations").glob("[0-9]*.py"))
        if now != then:
            targets.append((app, then[-1] if then else "zero"))
    return targets


@pytest.fixture
def previous_schema(previous_release) -> Iterator[Callable[[], int]]:
    """A function that takes the database back to what the previous release's
    migrations made, and says how many migrations this release adds."""

    def go_back() -> int:
        for app, target in previous_targets(previous_release):
            call_command("migrate", app, target, verbosity=0)
        executor = MigrationExecutor(connection)
        return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))

    try:
        yield go_back
    finally:
        call_command("migrate", verbosity=0)


def test_upgrade_while_an_old_worker_sends(relay, previous_release, previous_schema):
    # Made by this release's code, on its schema; then the schema goes back.
    delivery = prepared_delivery("mix", 300)
    delivery.rate_limit = 20  # fifteen seconds of sending: the upgrade happens meanwhile
    delivery.save(update_fields=["rate_limit"])
    services.confirm(boss(), delivery)
    new_migrations = previous_schema()
    smtp = {"ENVOI_SMTP_URL": f"smtp://127.0.0.1:{relay.port}"}
    old = envoi_process("worker", "--until-idle", PYTHONPATH=str(previous_release), **smtp)
    new = None
    try:
        rows = SendingLog.objects.filter(delivery=delivery)
        # The old worker runs the previous release's code, which knows no retention.
        environment = Path(f"/proc/{old.pid}/environ").read_bytes().split(b"\0")
        assert f"PYTHONPATH={previous_release}".encode() in environment
        assert not (previous_release / "envoi" / "ops" / "retention.py").exists()
        wait_until(lambda: rows.filter(status="sent").count() >= 30, what="the old worker")
        upgrade = envoi_process("upgrade")
        output = upgrade.communicate(timeout=300)[0]
        assert upgrade.returncode == 0, output
        assert f"Applied {new_migrations} migrations" in output
        sent_during_upgrade = rows.filter(status="sent").count()
        assert 30 <= sent_during_upgrade < 300, "the old worker was not sending throughout"
        new = envoi_process("worker", "--until-idle", **smtp)
        assert new.wait(timeout=300) == 0
        assert old.wait(timeout=300) == 0
    finally:
        old_output = stop(old)
        new_output = stop(new) if new is not None else ""
    assert "Traceback" not in old_output + new_output, old_output + new_output
    assert Counter(rows.values_list("status", flat=True)) == {"sent": 300}
    received = Counter(message.rcpt_to[0] for message in relay.messages)
    assert received == {f"mix{i}@example.com": 1 for i in range(300)}
    workers = set(rows.values_list("claimed_by", flat=True))
    assert len(workers) == 2, workers  # both releases sent part of it
