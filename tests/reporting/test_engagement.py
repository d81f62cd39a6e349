"""The rebuild of Compute stats: exactly what the events say, whatever was stored."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from envoi.reporting.engagement import rebuild_engagement
from envoi.tracking.ingest import record_events
from envoi.tracking.models import MessageEngagement, TrackingEvent
from tests.reporting.factory import T0, at, delivery_with_rows, event


def engagement(delivery_id: int) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in MessageEngagement.objects.filter(
        delivery_id=delivery_id).order_by("row_id").values_list(
        "row_id", "opened_at", "human_opened_at", "clicked_at", "mirrored_at")}


@pytest.mark.django_db
def test_the_rebuild_corrects_missing_late_early_and_unsupported_rows():
    delivery, rows = delivery_with_rows(["sent"] * 5)
    record_events([event(rows[i], "open", 10 + i) for i in range(4)]
                  + [event(rows[0], "click", 12), event(rows[1], "mirror", 20)])
    truth = engagement(delivery.pk)
    MessageEngagement.objects.filter(row_id=rows[0].pk).delete()             # missing
    MessageEngagement.objects.filter(row_id=rows[1].pk).update(opened_at=at(99))  # late
    MessageEngagement.objects.filter(row_id=rows[2].pk).update(opened_at=at(1))   # early
    MessageEngagement.objects.create(row_id=rows[4].pk, delivery_id=delivery.pk,
                                     opened_at=at(5))                         # no event
    MessageEngagement.objects.filter(row_id=rows[3].pk).update(delivery_id=424242)
    rebuild_engagement(delivery.pk)
    assert engagement(delivery.pk) == truth
    assert not MessageEngagement.objects.filter(delivery_id=424242).exists()


@pytest.mark.django_db
def test_the_rebuild_forgets_purged_events_and_leaves_other_deliveries_alone():
    delivery, rows = delivery_with_rows(["sent", "sent"])
    other, others = delivery_with_rows(["sent"], label="other")
    record_events([event(rows[0], "open", 1), event(rows[0], "open", 5),
                   event(rows[1], "open", 2), event(others[0], "open", 3)])
    TrackingEvent.objects.filter(row_id=rows[1].pk).delete()
    TrackingEvent.objects.filter(row_id=rows[0].pk, at=at(1)).delete()
    kept = engagement(other.pk)
    rebuild_engagement(delivery.pk)
    assert engagement(delivery.pk) == {rows[0].pk: (at(5), at(5), None, None)}
    assert engagement(other.pk) == kept


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       "AND NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_events_recorded_during_a_rebuild_wait_for_it_and_are_kept():
    delivery, rows = delivery_with_rows(["sent"])
    record_events([event(rows[0], "open", 30)])
    late = event(rows[0], "open", 10)
    rebuilt, recorded = threading.Event(), threading.Event()

    def record_late_event() -> None:
        try:
            rebuilt.wait()
            record_events([late])  # must wait for the rebuild's transaction
            recorded.set()
        finally:
            connection.close()

    recorder = threading.Thread(target=record_late_event)
    recorder.start()
    with transaction.atomic():
        rebuild_engagement(delivery.pk)
        rebuilt.set()
        assert wait_until(lambda: lock_waiters() == 1), "the recorder never waited"
        assert not recorded.is_set()
    recorder.join(10)
    assert recorded.is_set()
    assert MessageEngagement.objects.get(row_id=rows[0].pk).opened_at == T0 + timedelta(
        minutes=10)
