"""PostgreSQL: the tracking log's daily partitions (envoi.tracking.partitions), and the
migration that partitions a table already holding events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from envoi.tracking import partitions
from envoi.tracking.ingest import Event, record_events
from envoi.tracking.models import TrackingEvent

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def far_day(days: int) -> datetime:
    """A day after every partition the other tests may have opened."""
    newest = max(p.opened_at or datetime.min.replace(tzinfo=UTC)
                 for p in partitions.partitions())
    return newest.replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=days)


def record_one(at: datetime, row_id: int = 1) -> TrackingEvent:
    record_events([Event(row_id, 1, 1, "open", at)])
    return TrackingEvent.objects.filter(row_id=row_id).latest("id")


def partition_of(event: TrackingEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM tracking_trackingevent "
                       "WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def test_a_new_day_opens_a_partition_once_and_new_events_land_in_it():
    day = far_day(1)
    opened = partitions.rotate(day)
    assert opened is not None
    assert partitions.rotate(day + timedelta(hours=5)) is None  # the same UTC day
    event = record_one(day)
    assert partition_of(event) == opened
    following = partitions.rotate(day + timedelta(days=1))
    assert partition_of(record_one(day + timedelta(days=1), row_id=2)) == following
    closed = {p.name: p for p in partitions.partitions()}[opened]
    assert closed.closed_at == day + timedelta(days=1)
    assert closed.high == closed.low + partitions.WIDTH


def test_a_rotation_rolled_back_leaves_every_new_id_in_a_partition():
    day = far_day(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert partitions.rotate(day) is not None
        raise RuntimeError("the job failed after rotating")
    # ALTER SEQUENCE rolled back with the partition it pointed into: inserts still work.
    event = record_one(day)
    assert partition_of(event) in {p.name for p in partitions.partitions()}


def test_the_migration_keeps_the_events_of_a_plain_table():
    call_command("migrate", "tracking", "0002", verbosity=0)
    try:
        assert not partitions.is_partitioned()
        kept = [record_one(datetime(2026, 1, 1, tzinfo=UTC), row_id=i).pk for i in range(5)]
    finally:
        call_command("migrate", "tracking", verbosity=0)
    assert partitions.is_partitioned()
    assert sorted(TrackingEvent.objects.values_list("id", flat=True)) == sorted(kept)
    assert {partition_of(TrackingEvent.objects.get(pk=pk)) for pk in kept} == {
        "tracking_trackingevent_p0"}
    newer = record_one(datetime(2026, 1, 2, tzinfo=UTC), row_id=9)
    assert newer.pk > max(kept) and partition_of(newer) != "tracking_trackingevent_p0"
