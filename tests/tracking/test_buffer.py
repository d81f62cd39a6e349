"""The event buffer: batches, holds young clicks for burst detection, survives an
unreachable database, and writes everything when stopped."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import DataError, OperationalError
from django.utils import timezone

from envoi.tracking.buffer import FLUSH_EVENTS, EventBuffer, Hit
from envoi.tracking.ingest import record_events
from envoi.tracking.models import TrackingEvent
from tests.tracking.conftest import Sent


class Sink:
    """record_events, but able to fail the way a database does."""

    def __init__(self, failures: list[Exception] | None = None, refuse_row: int | None = None):
        self.failures = failures or []
        self.refuse_row = refuse_row
        self.batches: list[int] = []

    def __call__(self, events) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if self.refuse_row is not None and any(e.row_id == self.refuse_row for e in events):
            raise DataError("value out of range")
        self.batches.append(len(events))
        record_events(events)


def hit(sent: Sent, kind: str = "open", message: int = 0, at: datetime | None = None,
        link: int | None = None) -> Hit:
    row = sent.messages[message].row
    return Hit(kind, row.delivery_id, row.pk, at or timezone.now(), link_index=link)


@pytest.mark.django_db
def test_write_through_keeps_events_while_the_database_is_unreachable(sent: Sent):
    sink = Sink(failures=[OperationalError("server closed the connection")] * 2)
    events = EventBuffer(sink)
    events.record(hit(sent))  # the request is answered all the same
    assert events.pending() == 1 and not TrackingEvent.objects.exists()
    assert events.flush() is False
    assert events.flush() is True
    assert TrackingEvent.objects.count() == 1 and events.pending() == 0


@pytest.mark.django_db
def test_a_refused_event_is_dropped_alone(sent: Sent, caplog):
    sink = Sink(refuse_row=sent.messages[1].row.pk)
    events = EventBuffer(sink, buffered=True)
    for message in range(4):
        events.record(hit(sent, message=message))
    assert events.flush()
    assert TrackingEvent.objects.count() == 3
    assert "event dropped" in caplog.text


@pytest.mark.django_db
def test_hits_for_rows_that_no_longer_exist_are_ignored(sent: Sent):
    events = EventBuffer(buffered=True)
    events.record(Hit("open", sent.delivery.pk, 10**9, timezone.now()))
    events.record(Hit("open", sent.delivery.pk + 1, sent.messages[0].row.pk, timezone.now()))
    assert events.flush() and not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_young_clicks_wait_a_burst_window_so_a_scan_is_flagged_from_its_first_click(
        sent: Sent):
    now = timezone.now()
    events = EventBuffer(clock=lambda: now, buffered=True)
    events.record(hit(sent, "open", 1, now - timedelta(seconds=5)))
    for link in range(2):
        events.record(hit(sent, "click", 0, now - timedelta(seconds=0.5), link))
    assert events.drain(hold_young_clicks=True)
    assert list(TrackingEvent.objects.values_list("kind", flat=True)) == ["open"]
    events.record(hit(sent, "click", 0, now - timedelta(seconds=0.4), 2))
    now += timedelta(seconds=3)
    assert events.drain(hold_young_clicks=True)
    clicks = TrackingEvent.objects.filter(kind="click")
    assert clicks.count() == 3 and all(c.machine for c in clicks)


@pytest.mark.django_db
def test_a_burst_across_drains_is_still_recognized(sent: Sent):
    events = EventBuffer(buffered=True)
    base = timezone.now() - timedelta(seconds=1)
    for link in range(3):
        events.record(hit(sent, "click", 2, base + timedelta(seconds=0.3 * link), link))
        assert events.flush()
    flags = list(TrackingEvent.objects.order_by("link_index").values_list("machine", flat=True))
    assert flags == [False, False, True]  # written at once: only later clicks can tell


@pytest.mark.django_db(transaction=True)
def test_a_started_buffer_writes_in_batches_and_stop_writes_the_rest(sent: Sent):
    sink = Sink()
    events = EventBuffer(sink)
    events.start()
    total = 2 * FLUSH_EVENTS + 500
    for n in range(total):
        events.record(hit(sent, "open", n % 4))
    events.stop()
    assert TrackingEvent.objects.count() == total
    assert max(sink.batches) <= FLUSH_EVENTS and sum(sink.batches) == total
    assert not events.buffered and events.pending() == 0
