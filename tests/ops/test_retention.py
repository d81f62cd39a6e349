"""Retention over 90 days of deliveries and events, with a controlled clock.

Each simulated day opens the day's tracking-log partition and the month's sending-log
partition (PostgreSQL), finishes a delivery, records its events (and a late click on an
older delivery), receives a bounce and writes an audit entry. Retention then runs with
short periods; every KPI, Compute stats result and profile-history total must be what it
was, nothing younger than a period may change, and what is older is gone (whole
partitions on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from envoi import clock
from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Profile
from envoi.bounces.models import InboundMessage
from envoi.deliveries.models import Delivery, Status
from envoi.ops.retention import cutoffs, months_before, run_retention
from envoi.preparation.models import ExclusionLog
from envoi.reporting import kpis
from envoi.reporting.history import profile_history
from envoi.sending import partitions as sending_partitions
from envoi.sending.models import DETACHED_PROFILE, SendingLog
from envoi.tracking import partitions
from envoi.tracking.ingest import Event, record_events
from envoi.tracking.models import EventRollup, TrackingEvent
from tests.support.deliveries import boss

pytestmark = pytest.mark.django_db(transaction=True)

DAYS = 90
STATUSES = ["sent", "sent", "delivered", "failed", "sent", "ignored"]
HISTORY_TOTALS = ("message_count", "touchpoints", "first_contact_at", "event_count")


def day_start(day: int) -> datetime:
    # After today (in real time): the partition opened when the test database was made
    # is older than every simulated day, so the first day opens a partition of its own.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=day + 1, hours=9)


def seed_day(day: int, profiles: list[Profile], deliveries: list[Delivery]) -> None:
    now = day_start(day)
    clock.set_now(now)
    partitions.rotate(now)
    sending_partitions.rotate(now)
    delivery = Delivery.objects.create(
        label=f"day {day}", sender="news@shop.example.com", subject="Hello",
        status=Status.FINISHED, to_deliver=len(STATUSES), started_at=now,
        finished_at=now + timedelta(hours=1), updated_at=now + timedelta(hours=1))
    rows = SendingLog.objects.bulk_create([
        SendingLog(delivery=delivery, profile_id=profiles[(day + i) % len(profiles)].pk,
                   address=f"p{i}@example.com", status=status, attempts=1,
                   failure_type="hard" if status == "failed" else "",
                   failure_reason="user_unknown" if status == "failed" else "",
                   smtp_reply="550 5.1.1 <p3@example.com>: unknown" if status == "failed"
                   else "250 ok", sent_at=now if status in ("sent", "delivered") else None,
                   updated_at=now)
        for i, status in enumerate(STATUSES)])
    ExclusionLog.objects.create(delivery=delivery, profile_id=profiles[0].pk,
                                address="gone@example.com", reason="opted_out")
    minute = timedelta(minutes=1)
    events = [_event(rows[0], "open", now + 5 * minute, machine=True),
              _event(rows[1], "open", now + 10 * minute),
              _event(rows[1], "click", now + 12 * minute),
              _event(rows[1], "click", now + 14 * minute),
              _event(rows[2], "mirror", now + 20 * minute),
              _event(rows[4], "click", now + 2 * minute, machine=True),
              _event(rows[4], "unsubscribe", now + 30 * minute)]
    if day >= 3:  # a late click on a message of three days ago: its events span days
        older = SendingLog.objects.filter(delivery=deliveries[day - 3]).order_by("id")[2]
        events.append(_event(older, "click", now + 40 * minute))
    record_events(events)
    InboundMessage.objects.create(received_at=now, mail_from="", raw=b"bounce",
                                  address=f"p3@example.com-{day}")
    entry = AuditEntry.objects.create(action="delivery.confirm", delivery_id=delivery.pk)
    AuditEntry.objects.filter(pk=entry.pk).update(at=now)
    deliveries.append(delivery)


def _event(row: SendingLog, kind: str, at: datetime, machine: bool = False) -> Event:
    return Event(row.pk, row.delivery_id, row.profile_id, kind, at,
                 link_index=0 if kind == "click" else None, machine=machine,
                 url="https://shop.example.com/" if kind == "click" else "")


def figures(deliveries: list[Delivery], profiles: list[Profile]) -> dict:
    """Everything retention must leave unchanged: Compute stats of every delivery (which
    rebuilds the engagement from the events), and every profile's history totals."""
    stats = {d.pk: kpis.compute_stats(d.pk) for d in deliveries}
    history = {p.pk: {k: profile_history(boss(), p)[k] for k in HISTORY_TOTALS}
               for p in profiles}
    return {"stats": stats, "history": history}


def rows_of(deliveries: list[Delivery]) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in SendingLog.objects.filter(
        delivery__in=deliveries).values_list("id", "address", "profile_id", "status",
                                             "smtp_reply", "failure_reason", "sent_at")}


@pytest.fixture
def retention_settings(settings):
    settings.ENVOI_RETENTION_EVENTS_DAYS = 30
    settings.ENVOI_RETENTION_SENDING_MONTHS = 2
    settings.ENVOI_RETENTION_BOUNCES_DAYS = 10
    settings.ENVOI_RETENTION_AUDIT_DAYS = 45
    yield settings
    clock.set_now(None)


def test_ninety_days_age_out_and_every_figure_stays(retention_settings):
    profiles = [Profile.objects.create(email=f"person{i}@example.com") for i in range(7)]
    deliveries: list[Delivery] = []
    on_postgres = connection.vendor == "postgresql"
    partitions_before = len(sending_partitions.partitions()) if on_postgres else 0
    for day in range(DAYS):
        seed_day(day, profiles, deliveries)
    now = day_start(DAYS)
    clock.set_now(now)
    partitions.rotate(now)
    before = cutoffs(now)
    old = [d for d in deliveries if d.finished_at < before["sending"]]
    young = [d for d in deliveries if d not in old]
    assert 20 < len(old) < 40
    expected = figures(deliveries, profiles)
    young_rows = rows_of(young)
    young_events = set(TrackingEvent.objects.filter(at__gte=before["events"])
                       .values_list("id", "row_id", "kind", "at"))
    events_total = TrackingEvent.objects.count()
    if on_postgres:  # each month opened while seeding holds that month's rows
        opened = len(sending_partitions.partitions()) - partitions_before
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(DISTINCT tableoid) FROM sending_sendinglog")
            assert cursor.fetchone()[0] == 1 + opened

    counts = run_retention(now)

    # Older than the settings: gone (rolled up, anonymised).
    cutoff = before["events"]
    assert not TrackingEvent.objects.filter(at__lt=cutoff - timedelta(days=1)).exists()
    if connection.vendor == "postgresql":
        assert partitions.closed_before(cutoff) == []
        assert counts["event_partitions"] >= DAYS - 31
    else:
        assert not TrackingEvent.objects.filter(at__lt=cutoff).exists()
    assert counts["events"] == events_total - TrackingEvent.objects.count() > 0
    assert sum(EventRollup.objects.values_list("events", flat=True)) == counts["events"]
    old_rows = SendingLog.objects.filter(delivery__in=old)
    assert old_rows.count() == len(old) * len(STATUSES)  # counts kept: rows stay
    assert set(old_rows.values_list("address", "profile_id", "smtp_reply").distinct()) == {
        ("", DETACHED_PROFILE, "")}
    assert counts["anonymised_rows"] == old_rows.count()
    assert not ExclusionLog.objects.filter(delivery__in=old).exclude(
        profile_id=DETACHED_PROFILE).exists()
    assert not InboundMessage.objects.filter(received_at__lt=before["bounces"]).exists()
    # (the run's own entry is written afterwards, at the real time)
    assert not AuditEntry.objects.filter(at__lt=before["audit"]).exclude(
        action="retention.run").exists()

    # Nothing younger was touched.
    assert rows_of(young) == young_rows
    assert young_events <= set(TrackingEvent.objects.values_list("id", "row_id", "kind", "at"))
    assert ExclusionLog.objects.filter(delivery__in=young, address="gone@example.com").count() \
        == len(young)
    assert InboundMessage.objects.filter(received_at__gte=before["bounces"]).count() == 10
    assert AuditEntry.objects.filter(action="delivery.confirm").count() == 45

    # Every figure is what it was.
    assert figures(deliveries, profiles) == expected

    run = AuditEntry.objects.filter(action="retention.run").latest("id")
    assert run.detail["events"] == counts["events"]
    assert run.detail["anonymised_rows"] == counts["anonymised_rows"]
    assert run.detail["events_before"] == before["events"].isoformat()
    assert {"sending_before", "bounces_before", "audit_before"} <= set(run.detail)

    # A second run finds nothing left to do, and changes nothing.
    again = run_retention(now)
    assert again["events"] == again["anonymised_rows"] == again["inbound_messages"] == 0
    assert figures(deliveries, profiles) == expected


def test_zero_keeps_a_log_for_ever(retention_settings):
    retention_settings.ENVOI_RETENTION_EVENTS_DAYS = 0
    retention_settings.ENVOI_RETENTION_SENDING_MONTHS = 0
    found = cutoffs(datetime(2026, 5, 31, tzinfo=UTC))
    assert found["events"] is None and found["sending"] is None
    assert found["bounces"] == datetime(2026, 5, 21, tzinfo=UTC)


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (datetime(2026, 3, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
    (datetime(2026, 1, 15, tzinfo=UTC), 14, datetime(2024, 11, 15, tzinfo=UTC)),
    (datetime(2024, 5, 31, tzinfo=UTC), 3, datetime(2024, 2, 29, tzinfo=UTC)),
])
def test_months_are_calendar_months(moment, months, expected):
    assert months_before(moment, months) == expected


def test_envoi_retention_runs_it_now_and_prints_the_counts(retention_settings, capsys):
    from envoi.cli import main

    now = datetime.now(UTC)
    InboundMessage.objects.create(received_at=now - timedelta(days=11), raw=b"old")
    InboundMessage.objects.create(received_at=now - timedelta(days=9), raw=b"young")
    assert main(["retention"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "inbound_messages: 1" in printed
    assert [bytes(raw) for raw in InboundMessage.objects.values_list("raw", flat=True)] == [
        b"young"]
    assert AuditEntry.objects.filter(action="retention.run").count() == 1


def test_envoi_check_shows_the_periods_and_warns_before_links_expire(retention_settings):
    from django.utils import translation

    from envoi.ops.check import OK, WARNING, Plan, check_retention

    retention_settings.ENVOI_RETENTION_AUDIT_DAYS = 0
    with translation.override("ko"):
        findings = list(check_retention(Plan()))
    assert [f.verdict for f in findings] == [OK, WARNING]  # 2 months < 400 days of links
    assert findings[0].message == ("추적 이벤트: 30일; 발송 기록: 2개월; 반송 메일: 10일; "
                                   "감사 기록: 영구 보관")
    retention_settings.ENVOI_RETENTION_SENDING_MONTHS = 14
    assert [f.verdict for f in check_retention(Plan())] == [OK]
    retention_settings.ENVOI_RETENTION_BOUNCES_DAYS = -1
    assert [f.verdict for f in check_retention(Plan())] == ["error"]
