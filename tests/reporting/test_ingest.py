"""Recording events: engagement is the per-message minimum, whatever the batching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.tracking.ingest import Event, record_events
from envoi.tracking.models import MessageEngagement, TrackingEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.django_db
def test_events_are_stored_and_engagement_keeps_the_earliest_times():
    record_events([Event(1, 7, 70, "click", at(5), link_index=0, url="https://a.example",
                         user_agent="scanner", machine=True)])
    record_events([Event(1, 7, 70, "open", at(9)), Event(1, 7, 70, "click", at(8)),
                   Event(2, 7, 71, "mirror", at(3)), Event(1, 7, 70, "open", at(4))])
    assert TrackingEvent.objects.count() == 5
    first = MessageEngagement.objects.get(row_id=1)
    assert (first.opened_at, first.human_opened_at) == (at(4), at(4))
    assert (first.clicked_at, first.human_clicked_at) == (at(5), at(8))
    assert first.mirrored_at is None and first.unsubscribed_at is None
    second = MessageEngagement.objects.get(row_id=2)
    assert (second.opened_at, second.human_opened_at, second.mirrored_at) == (at(3),) * 3
    assert second.clicked_at is None


@pytest.mark.django_db
def test_an_unsubscribe_counts_as_an_open_and_an_empty_batch_does_nothing():
    record_events([])
    record_events([Event(3, 7, 72, "unsubscribe", at(1), machine=True)])
    row = MessageEngagement.objects.get(row_id=3)
    assert (row.opened_at, row.unsubscribed_at, row.human_opened_at) == (at(1), at(1), None)
