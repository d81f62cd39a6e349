"""Recurring deliveries (SPEC §4): executions, aggregation periods, Request confirmation
before sending, and runs that fire exactly once — under a controlled clock, through the
worker's own scheduler job, into a real SMTP server.

Runs on SQLite and on PostgreSQL (the suite's two passes); the concurrent-workers test
needs PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import PermissionDenied, create_user
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import recurring, services
from envoi.deliveries.models import Delivery, Recurrence
from envoi.reporting.jobs import run_due_jobs
from envoi.sending.models import SendingLog
from tests.support.api import Api
from tests.support.deliveries import boss
from tests.support.processes import database_url
from tests.support.scenario import HTML, TEXT

pytestmark = pytest.mark.django_db

# 09:00 in Seoul is 00:00 UTC; the clock fixture starts on Monday 5 January, 09:00 UTC.
FIRST_RUN = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)


def add_profiles(*addresses: str) -> None:
    create_profiles([{"email": address, "first_name": "P"} for address in addresses])


def recurring_delivery(**recurrence) -> Delivery:
    """A daily 09:00 (Seoul) recurring delivery, prepared and approved."""
    audience = Audience.objects.create(name="everyone", filter="")
    parent = services.create(boss(), label="Daily news", sender="news@example.com",
                             subject="News", html_body=HTML, text_body=TEXT,
                             audience=audience, time_zone="Asia/Seoul",
                             recurrence={"every": "day", "at": "09:00", **recurrence})
    parent = services.prepare(boss(), parent)
    assert parent.status == "pending_approval"
    assert not SendingLog.objects.filter(delivery=parent).exists()  # it never sends
    return services.approve(boss(), parent)


def run_day(clock, send_all, day: int) -> Delivery | None:
    """Move to the ``day``-th run (1 = the first) and let the worker do its work."""
    clock.set(FIRST_RUN + timedelta(days=day - 1))
    send_all()
    return Delivery.objects.filter(parent__isnull=False).order_by("-id").first()


def sent_to(relay) -> Counter:
    return Counter(rcpt for message in relay.messages for rcpt in message.rcpt_to)


@pytest.fixture
def starter():
    return create_user("stella", ["start_deliveries"])


def test_each_run_waits_for_its_confirmation_and_is_prepared_anew(clock, relay, send_all,
                                                                  starter):
    """Daily, no aggregation, Request confirmation before sending (the default), over
    ten days: every run is prepared again (a profile added on day n is in the n-th
    execution), and nothing is sent until someone confirms that run."""
    add_profiles("a@x.test", "b@x.test")
    parent = services.confirm(starter, recurring_delivery())
    recurrence = Recurrence.objects.get(delivery=parent)
    assert parent.status == "in_progress" and recurrence.request_confirmation
    assert recurrence.next_run_at == FIRST_RUN and not recurrence.sends_by_itself
    api = Api("sam", "start_deliveries")

    for day in range(1, 11):
        add_profiles(f"new{day}@x.test")
        before = len(relay.messages)
        execution = run_day(clock, send_all, day)
        assert execution is not None and execution.period.startswith(
            (FIRST_RUN + timedelta(days=day - 1)).strftime("%Y-%m-%d"))
        assert (execution.status, execution.prepared_at) == ("ready", clock.now())
        assert execution.to_deliver == 2 + day  # prepared now, with today's profile
        send_all()
        assert len(relay.messages) == before  # waiting for its confirmation

        with pytest.raises(PermissionDenied):  # a preparer cannot confirm it
            services.confirm(create_user(f"paula{day}", ["prepare_deliveries"]), execution)
        api.ok(api.post(f"/deliveries/{execution.pk}/confirm"))
        send_all()
        assert len(relay.messages) == before + execution.to_deliver
        assert Delivery.objects.get(pk=execution.pk).status == "finished"

    executions = api.ok(api.get(f"/deliveries/{parent.pk}/executions"))
    assert executions["count"] == 10 and Recurrence.objects.get(pk=recurrence.pk).runs == 10
    assert [row["counts"]["sent"] for row in executions["results"]] == list(
        range(12, 2, -1))  # newest first
    # The parent's figures are the sums of its executions'.
    kpis = api.ok(api.post(f"/deliveries/{parent.pk}/compute-stats"))["kpis"]
    assert kpis["to_deliver"] == kpis["delivered"] == sum(range(3, 13)) == len(relay.messages)
    assert sent_to(relay)["a@x.test"] == 10 and sent_to(relay)["new10@x.test"] == 1


def test_without_confirmation_runs_send_only_while_a_starter_has_confirmed(
        clock, relay, send_all, starter):
    """No aggregation, Request confirmation off: a Workflow user can run the schedule,
    but runs send by themselves only once a Start-deliveries user confirmed the
    recurring delivery — a confirmation that is audited and can be withdrawn."""
    add_profiles("a@x.test", "b@x.test")
    parent = recurring_delivery(request_confirmation=False)
    workflow = create_user("wendy", ["workflow"])
    with pytest.raises(PermissionDenied):
        services.confirm(workflow, parent)
    parent = services.activate(workflow, parent)
    assert parent.status == "in_progress"

    sent_per_day = []
    for day in range(1, 11):
        if day == 3:
            services.confirm(starter, Delivery.objects.get(pk=parent.pk))
        if day == 6:
            services.withdraw_confirmation(starter, Delivery.objects.get(pk=parent.pk))
        if day == 8:
            services.confirm(starter, Delivery.objects.get(pk=parent.pk))
        before = len(relay.messages)
        execution = run_day(clock, send_all, day)
        assert execution is not None
        sent_per_day.append(len(relay.messages) - before)
        expected = "finished" if sent_per_day[-1] else "ready"
        assert Delivery.objects.get(pk=execution.pk).status == expected, day
    assert sent_per_day == [0, 0, 2, 2, 2, 0, 0, 2, 2, 2]
    assert Delivery.objects.filter(parent=parent).count() == 10

    trail = list(AuditEntry.objects.filter(delivery_id=parent.pk).exclude(
        action="delivery.execution").order_by("id").values_list("action", "actor_name"))
    assert trail[-4:] == [("delivery.activate", "wendy"), ("delivery.confirm", "stella"),
                          ("delivery.withdraw_confirmation", "stella"),
                          ("delivery.confirm", "stella")]
    started_by_schedule = AuditEntry.objects.filter(action="delivery.confirm",
                                                    detail__by="scheduler")
    assert started_by_schedule.count() == 6


def test_a_monthly_aggregation_never_messages_anyone_twice_in_a_month(clock, relay,
                                                                       send_all, starter):
    """Daily runs over 40 days, aggregated by month: two executions (January and
    February); each run after the first adds only the newly qualifying profiles."""
    add_profiles("a@x.test", "b@x.test")
    parent = services.confirm(starter, recurring_delivery(aggregation="month"))
    for day in range(1, 41):
        if day % 7 == 0:
            add_profiles(f"new{day}@x.test")
        if day == 10:  # the same address again: one message per address
            add_profiles("A@X.TEST")
        run_day(clock, send_all, day)

    executions = list(Delivery.objects.filter(parent=parent).order_by("period"))
    assert [e.period for e in executions] == ["2026-01", "2026-02"]
    january, february = executions
    for execution in executions:
        rows = SendingLog.objects.filter(delivery=execution)
        addresses = [address.lower() for address in rows.values_list("address", flat=True)]
        assert len(addresses) == len(set(addresses)) == execution.to_deliver
        assert set(rows.values_list("status", flat=True)) == {"sent"}
    # January ran from the 6th to the 31st (days 1–26), February from the 1st (day 27).
    assert {row.address for row in SendingLog.objects.filter(delivery=january)} == {
        "a@x.test", "b@x.test", "new7@x.test", "new14@x.test", "new21@x.test"}
    assert february.to_deliver == 5 + 2  # everyone again, plus new28 and new35
    assert len(relay.messages) == january.to_deliver + february.to_deliver == 12
    per_address = sent_to(relay)
    assert per_address["a@x.test"] == 2 and per_address["new35@x.test"] == 1
    assert february.exclusions == {"duplicate": 1}


def test_a_schedule_ends_and_missed_runs_are_not_fired_twice(clock, relay, send_all,
                                                             starter):
    add_profiles("a@x.test")
    ends = FIRST_RUN + timedelta(days=2, hours=1)
    parent = services.confirm(starter, recurring_delivery(request_confirmation=False,
                                                          ends_at=ends.isoformat()))
    run_day(clock, send_all, 1)
    services.pause(starter, Delivery.objects.get(pk=parent.pk))
    run_day(clock, send_all, 2)  # paused: no run
    services.resume(starter, Delivery.objects.get(pk=parent.pk))
    send_all()  # day 2's run fell due while paused: it is skipped, not caught up
    assert Delivery.objects.filter(parent=parent).count() == 1
    run_day(clock, send_all, 3)
    run_day(clock, send_all, 4)  # after the end
    assert Delivery.objects.filter(parent=parent).count() == 2
    parent.refresh_from_db()
    assert parent.status == "finished" and len(relay.messages) == 2


def test_a_run_that_fails_halfway_leaves_no_trace_and_fires_again(clock, monkeypatch,
                                                                   starter):
    """A worker dying inside a run rolls the whole run back; the next one fires it."""
    from envoi.preparation import services as preparation

    add_profiles("a@x.test")
    parent = services.confirm(starter, recurring_delivery())
    real_prepare = preparation.prepare_delivery

    def crash(delivery):
        real_prepare(delivery)
        raise ConnectionError("worker lost its database connection")

    monkeypatch.setattr(preparation, "prepare_delivery", crash)
    clock.set(FIRST_RUN)
    assert recurring.fire_due_runs(clock.now()) == []
    assert not Delivery.objects.filter(parent=parent).exists()
    assert Recurrence.objects.get(delivery=parent).next_run_at == FIRST_RUN  # still due

    monkeypatch.setattr(preparation, "prepare_delivery", real_prepare)
    assert len(recurring.fire_due_runs(clock.now())) == 1
    assert recurring.fire_due_runs(clock.now()) == []
    assert Delivery.objects.filter(parent=parent).count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entry", ["fire_due_runs", "run_due_jobs"])
def test_three_workers_firing_at_once_create_one_execution_per_run(clock, entry):
    """Three workers (threads, each with its own PostgreSQL connection) fire the same
    due runs at the same instant, five days running: one execution per run."""
    add_profiles("a@x.test", "b@x.test")
    parent = services.confirm(create_user("stella", ["start_deliveries"]),
                              recurring_delivery())

    def worker(number: int, now: datetime, barrier: threading.Barrier,
               errors: list[BaseException]) -> None:
        try:
            barrier.wait()
            if entry == "fire_due_runs":
                recurring.fire_due_runs(now)
            else:
                run_due_jobs(now, f"worker-{number}")
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    for day in range(1, 6):
        now = FIRST_RUN + timedelta(days=day - 1, seconds=1)
        barrier, errors = threading.Barrier(3), []
        threads = [threading.Thread(target=worker, args=(n, now, barrier, errors))
                   for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert Delivery.objects.filter(parent=parent).count() == day
    assert Recurrence.objects.get(delivery=parent).runs == 5
    periods = list(Delivery.objects.filter(parent=parent).values_list("period", flat=True))
    assert len(set(periods)) == 5
    assert SendingLog.objects.filter(delivery__parent=parent).count() == 10


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_three_worker_processes_fire_a_due_run_once(relay):
    """Three real ``envoi worker`` processes start together while a run is due (on the
    real clock): one execution, each recipient messaged once."""
    add_profiles("a@x.test", "b@x.test", "c@x.test")
    parent = services.confirm(create_user("stella", ["start_deliveries"]),
                              recurring_delivery(request_confirmation=False))
    Recurrence.objects.filter(delivery=parent).update(next_run_at=timezone.now())
    env = dict(os.environ, ENVOI_DATABASE_URL=database_url(),
               ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
               ENVOI_SECRET_KEY=settings.SECRET_KEY)
    workers = [subprocess.Popen([sys.executable, "-m", "envoi", "worker", "--until-idle"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for _ in range(3)]
    outputs = [worker.communicate(timeout=120)[0].decode() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    assert Delivery.objects.filter(parent=parent).count() == 1
    assert Recurrence.objects.get(delivery=parent).runs == 1
    assert sent_to(relay) == {"a@x.test": 1, "b@x.test": 1, "c@x.test": 1}
