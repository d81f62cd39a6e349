"""Workers you can see: heartbeat rows written by real worker processes, the console's
workers page and ``envoi workers``; a killed worker shows as lost once its lease is over,
a worker stopped cleanly takes its row away."""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

import envoi
from envoi.accounts.roles import Role
from envoi.ops.models import WorkerHeartbeat
from tests.ops.running import envoi_process, stop, wait_until
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(relay):
    worker = envoi_process("worker", ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}")
    try:
        wait_until(lambda: WorkerHeartbeat.objects.filter(pid=worker.pid).exists(),
                   what="a heartbeat")
    except AssertionError:
        stop(worker)
        raise
    return worker


def rows_by_state(page: str) -> dict[str, str]:
    """data-worker → data-state of the workers table."""
    import re

    return dict(re.findall(r'data-worker="([^"]+)" data-state="(\w+)"', page))


def test_a_killed_worker_shows_as_lost(relay, clock):
    alive = start_worker(relay)
    killed = None
    try:
        killed = start_worker(relay)
        clock.set(timezone.now())
        admin = signed_in("admin", Role.ADMINISTRATION)
        page = admin.get("/workers/").content.decode()
        beat = WorkerHeartbeat.objects.get(pid=killed.pid)
        assert beat.host == socket.gethostname() and beat.version == envoi.__version__
        assert beat.key_fingerprint
        assert rows_by_state(page) == {
            WorkerHeartbeat.objects.get(pid=alive.pid).worker_id: "alive",
            beat.worker_id: "alive"}

        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
        time.sleep(0.5)
        # Past the lease of the last heartbeat it wrote, the killed worker is lost; the
        # other one, still beating, is not.
        clock.set(beat.last_seen_at + timedelta(seconds=61))
        WorkerHeartbeat.objects.filter(pid=alive.pid).update(last_seen_at=clock.now())
        page = admin.get("/workers/").content.decode()
        states = rows_by_state(page)
        assert states[beat.worker_id] == "lost"
        assert list(states.values()) == ["alive", "lost"]  # alive ones first
        assert "Alive: 1 · Lost: 1" in page
    finally:
        for worker in (alive, killed):
            if worker is not None:
                stop(worker)


def test_envoi_workers_lists_alive_and_lost(relay):
    worker = start_worker(relay)
    os.kill(worker.pid, signal.SIGKILL)
    stop(worker)
    beat = WorkerHeartbeat.objects.get(pid=worker.pid)
    listing = envoi_process("workers", ENVOI_LEASE_SECONDS="2")
    assert listing.communicate(timeout=60)[0].split("\n")[1].split()[4] == "alive"
    time.sleep(2.5)
    listing = envoi_process("workers", ENVOI_LEASE_SECONDS="2")
    output = listing.communicate(timeout=60)[0]
    assert listing.returncode == 0, output
    header, line = output.splitlines()[:2]
    assert header.split()[:5] == ["WORKER", "HOST", "PID", "VERSION", "STATE"]
    assert line.split()[:5] == [beat.worker_id, beat.host, str(worker.pid),
                                envoi.__version__, "lost"]


def test_a_worker_stopped_cleanly_takes_its_row_away(relay):
    worker = start_worker(relay)
    output = stop(worker)  # SIGTERM: drain and exit
    assert worker.returncode == 0, output
    assert not WorkerHeartbeat.objects.filter(pid=worker.pid).exists()


@pytest.mark.parametrize(("language", "heading", "state"), [
    ("en", "Messages in the last minute", "Alive"),
    ("ko", "최근 1분간 메시지", "살아 있음"),
    ("ja", "直近1分間のメッセージ", "稼働中"),
])
def test_the_workers_page_speaks_the_readers_language(language, heading, state):
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="h:1:1", host="h", pid=1, version="0.1.0",
                                   started_at=now, last_seen_at=now, messages_last_minute=5)
    page = signed_in("admin", Role.ADMINISTRATION, language=language).get("/workers/")
    assert page.status_code == 200
    assert heading in page.content.decode() and state in page.content.decode()


@pytest.mark.parametrize(("language", "refusal"), [
    ("en", "Your permissions do not allow you to view workers."),
    ("ko", "권한이 없어 워커를 볼 수 없습니다."),
    ("ja", "権限がないため、ワーカーを表示できません。"),
])
def test_only_administration_sees_the_workers(language, refusal):
    page = signed_in("prep", Role.PREPARE_DELIVERIES, Role.START_DELIVERIES,
                     language=language).get("/workers/")
    assert page.status_code == 403
    assert refusal in page.content.decode()
    admin_menu = signed_in("admin", Role.ADMINISTRATION).get("/deliveries/").content.decode()
    assert 'href="/workers/"' in admin_menu


def test_a_starting_worker_forgets_workers_lost_for_a_week(clock):
    from envoi.ops.vitals import WorkerVitals

    for name, age in (("gone", timedelta(days=8)), ("recent", timedelta(days=6))):
        WorkerHeartbeat.objects.create(worker_id=name, host=name, pid=1, version="0.1.0",
                                       started_at=clock.now() - age,
                                       last_seen_at=clock.now() - age)
    WorkerVitals("new:1:1", clock.now).tick()
    assert sorted(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == [
        "new:1:1", "recent"]
