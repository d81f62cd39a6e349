"""Rate limits that hold across all workers (issue: scale-out): per delivery and per
recipient domain, kept in the database, measured at a real SMTP server.

The reservation rules run on both databases; the end-to-end runs (three workers sharing
one limit, about 10 seconds each) run in the PostgreSQL pass.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.sending import ratelimit
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.deliveries import boss

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_domain_limits_are_read_from_the_setting():
    assert ratelimit.parse_domain_limits("gmail.com=50, Naver.com=20.5") == {
        "gmail.com": 50.0, "naver.com": 20.5}
    for bad in ("gmail.com", "gmail.com=fast", "=3", "a.com=-1", "a.com=nan"):
        with pytest.raises(ValueError, match="ENVOI_DOMAIN_RATE_LIMITS"):
            ratelimit.parse_domain_limits(bad)


@pytest.mark.django_db
def test_reservations_follow_each_other_without_overlap():
    assert ratelimit.reserve("delivery:1", 10, 5, NOW) == NOW
    assert ratelimit.reserve("delivery:1", 10, 5, NOW) == NOW + timedelta(seconds=0.5)
    assert ratelimit.reserve("delivery:2", 10, 5, NOW) == NOW  # another limit
    later = NOW + timedelta(seconds=5)  # idle time is not saved up for a burst
    assert ratelimit.reserve("delivery:1", 10, 1, later) == later


@pytest.mark.django_db
def test_a_batch_is_planned_under_both_limits():
    rows = [(1, "a@slow.test"), (2, "b@fast.test"), (3, "c@slow.test"), (4, "d@slow.test")]
    plan = ratelimit.plan_batch(7, 4, rows, NOW, {"slow.test": 2})
    # slow.test allows 2 within the one-second horizon: the third waits for later.
    assert plan.deferred == [4]
    # The delivery's 4/s spaces the kept rows 0.25 s apart; slow.test's 2/s puts its
    # second message at +0.5 s.
    assert plan.send_at == {1: NOW, 2: NOW + timedelta(seconds=0.25),
                            3: NOW + timedelta(seconds=0.5)}


def most_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def send_with_three_workers(relay, recipients: list[str], **delivery_fields) -> None:
    create_profiles([{"email": address} for address in recipients])
    audience = Audience.objects.create(name="all", filter="")
    delivery = services.create(boss(), label="r", sender="a@example.com", subject="s",
                               text_body="{{ unsubscribe_url }}", audience=audience,
                               approval_required=False, **delivery_fields)
    services.confirm(boss(), services.prepare(boss(), delivery))
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            Worker(worker_id=name, smtp_url=f"smtp://127.0.0.1:{relay.port}?pool=2"
                   ).run(until_idle=True, poll_seconds=0.05)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert set(SendingLog.objects.values_list("status", flat=True)) == {"sent"}
    assert len(set(SendingLog.objects.values_list("claimed_by", flat=True))) > 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_delivery_rate_limit_holds_across_three_workers(relay):
    rate, count = 100, 1150
    send_with_three_workers(relay, [f"r{i}@example.com" for i in range(count)],
                            rate_limit=rate)
    times = [message.received_at for message in relay.messages]
    assert len(times) == count
    most = most_in_any_window(times, 10.0)
    print(f"rate limit {rate}/s, 3 workers: at most {most} messages in any 10 s window")
    assert most <= 1.05 * rate * 10
    assert max(times) - min(times) >= 0.95 * (count - 1) / rate  # and it is not undershot


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_recipient_domain_limit_holds_across_three_workers(relay, settings):
    settings.ENVOI_DOMAIN_RATE_LIMITS = "slow.test=100"
    slow = [f"s{i}@slow.test" for i in range(1150)]
    fast = [f"f{i}@fast.test" for i in range(600)]
    send_with_three_workers(relay, slow + fast)
    slow_times = [m.received_at for m in relay.messages if m.rcpt_to[0].endswith("slow.test")]
    fast_times = [m.received_at for m in relay.messages if m.rcpt_to[0].endswith("fast.test")]
    assert (len(slow_times), len(fast_times)) == (1150, 600)
    most = most_in_any_window(slow_times, 10.0)
    print(f"slow.test limit 100/s, 3 workers: at most {most} in any 10 s window")
    assert most <= 1.05 * 100 * 10
    # The other domain is not held back by the slow one.
    assert max(fast_times) - min(fast_times) < 0.5 * (max(slow_times) - min(slow_times))
