"""Scheduled one-shot deliveries, the recipient's time zone, retries and validity
(SPEC §4, §5), sent into a real SMTP server under a controlled clock.

Runs on SQLite and on PostgreSQL (the suite's two passes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.deliveries import lifecycle, services
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.api import Api
from tests.support.deliveries import boss
from tests.support.scenario import HTML, TEXT

pytestmark = pytest.mark.django_db


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def audience_of(*rows: dict) -> Audience:
    create_profiles([{"first_name": "P", **row} for row in rows])
    return Audience.objects.create(name="everyone", filter="")


def scheduled(audience: Audience, **schedule) -> Delivery:
    """A delivery brought to Approved through the services, with ``schedule``."""
    delivery = services.create(boss(), label="Sale", sender="shop@example.com",
                               subject="Sale", html_body=HTML, text_body=TEXT,
                               audience=audience, **schedule)
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "pending_approval", list(
        delivery.preparation_messages.values("message"))
    return services.approve(boss(), delivery)


def received(relay) -> list[str]:
    return sorted(rcpt for message in relay.messages for rcpt in message.rcpt_to)


@pytest.mark.parametrize(("time_zone", "wall", "instant"), [
    ("Asia/Seoul", "2026-01-06T09:00", utc(2026, 1, 6, 0, 0)),
    ("Europe/Paris", "2026-01-06T09:00", utc(2026, 1, 6, 8, 0)),
    ("America/Los_Angeles", "2026-01-05T18:00", utc(2026, 1, 6, 2, 0)),
])
def test_a_scheduled_delivery_waits_in_start_pending_for_its_contact_date(
        clock, relay, send_all, time_zone, wall, instant):
    audience = audience_of({"email": "a@x.test"}, {"email": "b@x.test"})
    delivery = scheduled(audience, contact_date=datetime.fromisoformat(wall),
                         time_zone=time_zone)
    assert delivery.contact_date == instant and delivery.start_at == instant

    delivery = services.confirm(boss(), delivery)
    assert delivery.status == "start_pending"
    send_all()
    clock.set(instant - timedelta(seconds=1))
    send_all()
    assert relay.messages == [] and Delivery.objects.get(pk=delivery.pk).status == (
        "start_pending")

    clock.set(instant)
    send_all()
    delivery.refresh_from_db()
    assert received(relay) == ["a@x.test", "b@x.test"]
    assert delivery.status == "finished" and delivery.started_at == instant
    assert set(SendingLog.objects.values_list("sent_at", flat=True)) == {instant}


def test_a_sending_worker_looks_for_due_deliveries_once_a_second(clock, relay):
    """Starting due deliveries is housekeeping a worker does at most once a second of
    its clock, not once per batch: a start can be up to a second late."""
    instant = utc(2026, 1, 6, 0, 0)
    clock.set(instant - timedelta(seconds=0.5))
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}")
    assert worker.run_once() == 0
    delivery = services.confirm(boss(), scheduled(
        audience_of({"email": "a@x.test"}), contact_date=instant.replace(tzinfo=None),
        time_zone="UTC"))

    clock.set(instant)
    assert worker.run_once() == 0 and relay.messages == [], "due, but looked half a second ago"
    clock.set(instant + timedelta(seconds=0.5))
    assert worker.run_once() == 1
    assert Delivery.objects.get(pk=delivery.pk).started_at == instant + timedelta(seconds=0.5)


def test_a_contact_date_in_the_past_sends_at_once(clock, relay, send_all):
    delivery = scheduled(audience_of({"email": "a@x.test"}),
                         contact_date=datetime(2026, 1, 1, 9, 0), time_zone="Asia/Tokyo")
    assert services.confirm(boss(), delivery).status == "in_progress"
    send_all()
    assert received(relay) == ["a@x.test"]


def test_stopping_a_scheduled_delivery_sends_nothing(clock, relay, send_all):
    delivery = scheduled(audience_of({"email": "a@x.test"}),
                         contact_date=datetime(2026, 1, 6, 9, 0))
    delivery = services.stop(boss(), services.confirm(boss(), delivery))
    clock.advance(days=2)
    send_all()
    assert relay.messages == [] and delivery.status == "stopped"
    assert list(SendingLog.objects.values_list("status", flat=True)) == ["ignored"]


def test_changing_the_schedule_after_preparation_requires_preparing_again(clock):
    delivery = scheduled(audience_of({"email": "a@x.test"}),
                         contact_date=datetime(2026, 1, 6, 9, 0))
    delivery = services.update(boss(), delivery, time_zone="Asia/Seoul")
    assert delivery.status == "editing" and delivery.approval == {}
    assert not SendingLog.objects.filter(delivery=delivery).exists()
    # A new zone alone keeps the wall-clock time: 9:00 in Seoul now.
    assert delivery.contact_date == utc(2026, 1, 6, 0, 0)


def test_recipients_get_the_wall_clock_time_in_their_own_time_zone(clock, relay, send_all):
    """09:00 on 6 January in each profile's zone; profiles without one (or with an
    unknown one) use the contact date's zone, Paris."""
    audience = audience_of(
        {"email": "seoul@x.test", "timezone": "Asia/Seoul"},  # 00:00 UTC
        {"email": "paris@x.test", "timezone": "Europe/Paris"},  # 08:00 UTC
        {"email": "nozone@x.test"},  # Paris: 08:00 UTC
        {"email": "bogus@x.test"},  # an unknown zone, below: Paris, 08:00 UTC
        {"email": "ny@x.test", "timezone": "America/New_York"},  # 14:00 UTC
    )
    # Imports refuse unknown zones; older data may still hold one.
    Profile.objects.filter(email="bogus@x.test").update(timezone="Nowhere/Special")
    delivery = scheduled(audience, contact_date=datetime(2026, 1, 6, 9, 0),
                         time_zone="Europe/Paris", recipient_time_zone=True)
    due = dict(SendingLog.objects.values_list("address", "next_attempt_at"))
    assert due == {"seoul@x.test": utc(2026, 1, 6, 0, 0), "paris@x.test": utc(2026, 1, 6, 8, 0),
                   "nozone@x.test": utc(2026, 1, 6, 8, 0), "bogus@x.test": utc(2026, 1, 6, 8, 0),
                   "ny@x.test": utc(2026, 1, 6, 14, 0)}
    assert delivery.start_at == utc(2026, 1, 6, 0, 0)  # the earliest zone

    services.confirm(boss(), delivery)
    for moment, expected in [
        (utc(2026, 1, 5, 23, 59), []),
        (utc(2026, 1, 6, 0, 0), ["seoul@x.test"]),
        (utc(2026, 1, 6, 7, 59), ["seoul@x.test"]),
        (utc(2026, 1, 6, 8, 0), ["bogus@x.test", "nozone@x.test", "paris@x.test",
                                 "seoul@x.test"]),
        (utc(2026, 1, 6, 14, 0), ["bogus@x.test", "nozone@x.test", "ny@x.test",
                                  "paris@x.test", "seoul@x.test"]),
    ]:
        clock.set(moment)
        send_all()
        assert received(relay) == expected, moment
    delivery.refresh_from_db()
    assert delivery.status == "finished"
    # The validity period runs from the last zone's time, not from the start.
    assert delivery.valid_until == utc(2026, 1, 6, 14, 0) + timedelta(hours=72)


@pytest.mark.parametrize(("wall", "expected"), [
    # 02:30 on 8 March 2026 does not exist in New York: 03:30 EDT (07:30 UTC);
    # in Seoul, where there is no DST, 02:30 KST.
    (datetime(2026, 3, 8, 2, 30), {"ny@x.test": utc(2026, 3, 8, 7, 30),
                                   "seoul@x.test": utc(2026, 3, 7, 17, 30)}),
    # 01:30 on 1 November 2026 happens twice in New York: the first, 01:30 EDT.
    (datetime(2026, 11, 1, 1, 30), {"ny@x.test": utc(2026, 11, 1, 5, 30),
                                    "seoul@x.test": utc(2026, 10, 31, 16, 30)}),
])
def test_recipient_time_zone_across_dst_changes(clock, relay, send_all, wall, expected):
    clock.set(wall.replace(tzinfo=UTC) - timedelta(days=2))
    audience = audience_of({"email": "ny@x.test", "timezone": "America/New_York"},
                           {"email": "seoul@x.test", "timezone": "Asia/Seoul"})
    delivery = services.confirm(boss(), scheduled(
        audience, contact_date=wall, time_zone="UTC", recipient_time_zone=True))
    assert dict(SendingLog.objects.values_list("address", "next_attempt_at")) == expected
    for address, moment in sorted(expected.items(), key=lambda item: item[1]):
        clock.set(moment - timedelta(seconds=1))
        send_all()
        assert address not in received(relay)
        clock.set(moment)
        send_all()
        assert address in received(relay)
    assert len(relay.messages) == 2
    delivery.refresh_from_db()
    assert delivery.status == "finished"


def test_soft_failures_are_retried_with_the_configured_spacing(clock, relay, send_all):
    relay.script("busy@x.test", "451 4.3.0 Try again later", times=2)
    delivery = scheduled(audience_of({"email": "busy@x.test"}, {"email": "ok@x.test"}),
                         max_retries=3, retry_delay_seconds=900)
    services.confirm(boss(), delivery)
    send_all()
    busy = SendingLog.objects.get(address="busy@x.test")
    assert (busy.status, busy.attempts) == ("pending", 1)
    assert busy.next_attempt_at == clock.now() + timedelta(seconds=900)
    assert busy.failure_reason  # the last failure is kept while the retry waits

    clock.advance(seconds=899)
    send_all()
    assert SendingLog.objects.get(pk=busy.pk).attempts == 1  # not yet
    clock.advance(seconds=1)
    send_all()
    clock.advance(seconds=900)
    send_all()
    busy.refresh_from_db()
    assert (busy.status, busy.attempts) == ("sent", 3)
    assert received(relay) == ["busy@x.test", "ok@x.test"]
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"


def test_retries_end_with_the_validity_period(clock, relay, send_all):
    """Soft failures are retried until the validity period ends; what is still not
    sent then fails with "validity expired", and the delivery finishes."""
    relay.script("busy@x.test", "451 4.3.0 Try again later")
    relay.script("full@x.test", "452 4.2.2 Mailbox full")
    delivery = scheduled(audience_of({"email": "busy@x.test"}, {"email": "full@x.test"},
                                     {"email": "ok@x.test"}),
                         max_retries=20, retry_delay_seconds=3600, validity_hours=3)
    services.confirm(boss(), delivery)
    for _ in range(4):
        send_all()
        clock.advance(hours=1)
    send_all()
    rows = {row.address: row for row in SendingLog.objects.all()}
    assert rows["ok@x.test"].status == "sent"
    for address in ("busy@x.test", "full@x.test"):
        row = rows[address]
        assert (row.status, row.failure_type, row.failure_reason) == (
            "failed", "soft", "validity_expired"), address
        # At 0, 1, 2 and 3 h (the period's last instant); a 4 h retry would be too late.
        assert row.attempts == 4
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"


def test_rows_waiting_past_the_validity_period_expire_even_unclaimed(clock, relay,
                                                                      send_all):
    """A paused delivery's rows cannot be claimed; they still expire on time."""
    delivery = services.confirm(boss(), scheduled(audience_of({"email": "a@x.test"}),
                                                  validity_hours=1))
    services.pause(boss(), delivery)
    clock.advance(hours=2)
    send_all()
    row = SendingLog.objects.get()
    assert (row.status, row.failure_reason, row.attempts) == ("failed", "validity_expired", 0)
    delivery = services.resume(boss(), Delivery.objects.get(pk=delivery.pk))
    send_all()
    assert relay.messages == []
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"


# -- the API faces -----------------------------------------------------------------------


@pytest.fixture
def preparer():
    return Api("paula", "prepare_deliveries")


def test_schedule_fields_through_the_api(clock, preparer):
    audience = audience_of({"email": "a@x.test"})
    created = preparer.ok(preparer.post("/deliveries", {
        "label": "Sale", "sender": "shop@example.com", "subject": "Sale", "html_body": HTML,
        "audience_id": audience.pk, "contact_date": "2026-03-08T02:30",
        "time_zone": "America/New_York", "recipient_time_zone": True}), 201)
    assert created["contact_date"].startswith("2026-03-08T07:30")
    assert created["contact_date_local"] == "2026-03-08T03:30"
    assert created["time_zone"] == "America/New_York" and created["recipient_time_zone"]

    patched = preparer.ok(preparer.patch(f"/deliveries/{created['id']}",
                                         {"contact_date": None}))
    assert patched["contact_date"] is None and patched["contact_date_local"] is None


@pytest.mark.parametrize(("payload", "message"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone: unknown time zone 'Mars/Olympus'"),
    ({"time_zone": "Asia/Seoul\r\nX: y"}, "time_zone: unknown time zone"),
    ({"recurrence": {"cron": "0 25 * * *"}}, "cron: hour field: 25 is outside 0-23"),
    ({"recurrence": {"every": "day"}}, "recurrence.at"),
    ({"recurrence": {"cron": "0 9 30 2 *"}}, "never occurs"),
    ({"recurrence": {"cron": "0 9 * * *", "ends_at": "0001-01-01T00:00"}},
     "recurrence.ends_at: 0001-01-01T00:00:00 is outside the years 1970-8999"),
    ({"contact_date": "9999-12-31T23:59", "time_zone": "Pacific/Kiritimati"},
     "contact_date: 9999-12-31T23:59:00 is outside"),
    ({"contact_date": "0001-01-01T00:00:00+14:00"}, "contact_date: 0001-01-01T00:00:00+14:00"),
    ({"recurrence": {"every": "day", "at": "09:00"}, "contact_date": "2026-02-01T09:00"},
     "contact_date: a recurring delivery runs on its schedule"),
])
def test_bad_schedules_are_refused_with_what_and_where(clock, preparer, payload, message):
    response = preparer.post("/deliveries", {"label": "x", "sender": "a@b.test",
                                             "subject": "s", **payload})
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not Delivery.objects.exists()


def test_the_scheduled_delivery_lifecycle_is_guarded(clock):
    delivery = scheduled(audience_of({"email": "a@x.test"}),
                         contact_date=datetime(2026, 1, 6, 9, 0))
    services.confirm(boss(), delivery)
    with pytest.raises(lifecycle.InvalidTransition):
        services.pause(boss(), Delivery.objects.get(pk=delivery.pk))
    assert lifecycle.start_due(utc(2026, 1, 6, 8, 59)) == []
    assert lifecycle.start_due(utc(2026, 1, 6, 9, 0)) == [delivery.pk]
    assert lifecycle.start_due(utc(2026, 1, 6, 9, 0)) == []  # exactly once
