"""Periodic jobs: due jobs run once per interval, whatever the number of workers."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.db import connection

from envoi.reporting import jobs
from envoi.reporting.models import DeliveryKpis, PeriodicJob
from envoi.sending.worker import Worker
from tests.reporting.factory import T0, delivery_with_rows


@pytest.fixture
def runs(monkeypatch) -> list[tuple[str, object]]:
    """A registry holding one hourly test job; each run is appended as (job, time)."""
    ran: list[tuple[str, object]] = []
    lock = threading.Lock()

    def job(now):
        with lock:
            ran.append(("tick", now))

    monkeypatch.setattr(jobs, "JOBS", {})
    jobs.register("tick", lambda: timedelta(hours=1), job)
    return ran


@pytest.mark.django_db
def test_a_job_runs_at_once_then_only_after_its_interval(runs):
    assert jobs.run_due_jobs(T0, "w1") == ["tick"]
    assert jobs.run_due_jobs(T0, "w2") == []
    assert jobs.run_due_jobs(T0 + timedelta(minutes=59), "w2") == []
    assert jobs.run_due_jobs(T0 + timedelta(hours=1), "w2") == ["tick"]
    assert runs == [("tick", T0), ("tick", T0 + timedelta(hours=1))]
    job = PeriodicJob.objects.get(name="tick")
    assert (job.last_run_at, job.next_run_at, job.last_worker) == (
        T0 + timedelta(hours=1), T0 + timedelta(hours=2), "w2")


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others(runs, caplog):
    def broken(now):
        raise RuntimeError("boom")

    jobs.register("broken", lambda: timedelta(hours=1), broken)
    assert jobs.run_due_jobs(T0, "w1") == ["tick", "broken"]
    assert "periodic job broken failed" in caplog.text
    assert jobs.run_due_jobs(T0 + timedelta(minutes=1), "w1") == []


@pytest.mark.django_db
def test_the_worker_checks_at_most_every_few_seconds(runs):
    runner = jobs.JobRunner("w1", check_every=timedelta(seconds=5))
    assert runner.tick(T0) == ["tick"]
    PeriodicJob.objects.update(next_run_at=T0)  # due again, but too soon to look
    assert runner.tick(T0 + timedelta(seconds=4)) == []
    assert runner.tick(T0 + timedelta(seconds=5)) == ["tick"]


@pytest.mark.django_db
def test_the_worker_loop_runs_the_hourly_kpi_refresh(settings):
    settings.ENVOI_KPI_REFRESH_SECONDS = 600
    delivery, _ = delivery_with_rows(["sent", "failed"], status="in_progress")
    clock = [T0]
    Worker(worker_id="w1", clock=lambda: clock[0]).run(until_idle=True)
    refreshed = DeliveryKpis.objects.get(delivery=delivery)
    assert refreshed.computed_at == T0 and refreshed.values["failed_rate"] == 0.5
    job = PeriodicJob.objects.get(name="kpi_refresh")
    assert (job.last_worker, job.next_run_at) == ("w1", T0 + timedelta(seconds=600))

    clock[0] = T0 + timedelta(seconds=599)
    Worker(worker_id="w2", clock=lambda: clock[0]).run(until_idle=True)
    assert DeliveryKpis.objects.get(delivery=delivery).computed_at == T0
    clock[0] = T0 + timedelta(seconds=600)
    Worker(worker_id="w2", clock=lambda: clock[0]).run(until_idle=True)
    assert DeliveryKpis.objects.get(delivery=delivery).computed_at == clock[0]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("advisory_lock", [True, False], ids=["locked", "claim-alone"])
def test_three_workers_at_the_same_due_time_run_the_job_once(runs, advisory_lock,
                                                             monkeypatch):
    if not advisory_lock:  # the conditional UPDATE alone must also suffice
        monkeypatch.setattr(jobs, "one_runner_at_a_time", lambda: nullcontext(True))
    start = threading.Barrier(3)
    answers: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        try:
            start.wait()  # each thread has its own database connection
            answers[name] = jobs.run_due_jobs(T0, name)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs == [("tick", T0)]
    assert sorted(map(len, answers.values())) == [0, 0, 1]
    assert PeriodicJob.objects.get(name="tick").last_worker in answers
