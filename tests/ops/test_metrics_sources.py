"""The metrics counted outside the sending loop: bounces by outcome, periodic job runs,
the tracking buffer."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from envoi.bounces.ingest import receive
from envoi.bounces.models import InboundMessage
from envoi.reporting import jobs
from envoi.tracking.buffer import EventBuffer, Hit

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_bounces_are_counted_by_outcome():
    outcomes = [o for o, _ in InboundMessage._meta.get_field("outcome").choices]
    before = {o: value("envoi_bounces_received_total", outcome=o) for o in outcomes}
    receive(b"Subject: hello\r\n\r\nnot a bounce\r\n")
    receive(b"Subject: out of office\r\nAuto-Submitted: auto-replied\r\n\r\naway\r\n")
    receive(b"\xff\xfe\x00garbage", "", ["b-1a.aaaaaaaaaaaaaaaaaaaa@bounces.example"])
    stored = Counter(InboundMessage.objects.values_list("outcome", flat=True))
    counted = {o: value("envoi_bounces_received_total", outcome=o) - before[o]
               for o in outcomes}
    assert {o: n for o, n in counted.items() if n} == dict(stored)


def test_job_runs_are_counted_and_timed(monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", {})

    def broken(_now):
        raise RuntimeError("boom")

    jobs.register("ops_test_ok", lambda: timedelta(minutes=5), lambda _now: None)
    jobs.register("ops_test_broken", lambda: timedelta(minutes=5), broken)
    before = (value("envoi_job_runs_total", job="ops_test_ok", result="ok"),
              value("envoi_job_runs_total", job="ops_test_broken", result="failed"),
              value("envoi_job_duration_seconds_count", job="ops_test_ok"))
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert jobs.run_due_jobs(now, "w1") == ["ops_test_ok", "ops_test_broken"]
    assert jobs.run_due_jobs(now, "w2") == []  # claimed once: not run again
    after = (value("envoi_job_runs_total", job="ops_test_ok", result="ok"),
             value("envoi_job_runs_total", job="ops_test_broken", result="failed"),
             value("envoi_job_duration_seconds_count", job="ops_test_ok"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_the_tracking_buffer_reports_its_depth_and_lag():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    buffer = EventBuffer(clock=lambda: now, buffered=True)
    # Clicks younger than a burst window wait in the buffer for the next flush.
    for age in (1.5, 0.5):
        buffer.record(Hit("click", 1, 1, now - timedelta(seconds=age), 0, "https://x"))
    buffer.drain(hold_young_clicks=True)
    assert buffer.pending() == 2
    assert value("envoi_tracking_buffer_events") == 2
    assert value("envoi_tracking_flush_lag_seconds") == 1.5


def test_live_gauges_of_exited_processes_are_dropped(tmp_path):
    """A process restarted by its supervisor leaves its files; its open connections
    must not be added up for ever, its counts must."""
    import os
    import subprocess
    import sys

    from envoi.ops.metrics import forget_exited

    script = ("from envoi.ops import metrics; "
              "metrics.RELAY_CONNECTIONS.labels('mx:25').inc(3); "
              "metrics.MESSAGES_SENT.labels('email', 'mx:25').inc(7)")
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    assert list(tmp_path.glob("gauge_livesum_*.db"))
    forget_exited(tmp_path)
    assert not list(tmp_path.glob("gauge_livesum_*.db"))
    assert list(tmp_path.glob("counter_*.db"))
