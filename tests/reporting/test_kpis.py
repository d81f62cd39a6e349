"""The KPI formulas of SPEC §6, against numbers computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from envoi.deliveries.models import Delivery
from envoi.reporting import kpis
from envoi.reporting.models import DeliveryKpis
from envoi.tracking.ingest import record_events
from envoi.tracking.models import MessageEngagement
from tests.reporting.factory import T0, delivery_with_rows, event

pytestmark = pytest.mark.django_db

# Ten messages: 6 sent, 1 delivered, 2 failed (hard and soft), 1 still pending.
STATUSES = ["sent"] * 6 + ["delivered", ("failed", "hard", "user_unknown"),
                           ("failed", "soft", "mailbox_full"), "pending"]


@pytest.fixture
def delivery():
    delivery, rows = delivery_with_rows(STATUSES)
    record_events([
        event(rows[0], "open", 1, machine=True), event(rows[0], "click", 2, link_index=0),
        event(rows[1], "open", 1, machine=True),                 # a privacy prefetch only
        event(rows[2], "click", 0.1, machine=True, link_index=1),  # a link scanner only
        event(rows[3], "mirror", 5),                             # a mirror view is an open
        event(rows[4], "unsubscribe", 7),                        # so is an unsubscribe
        event(rows[6], "open", 3), event(rows[6], "open", 4),    # two opens, one message
    ])
    return delivery


EXPECTED = {
    "to_deliver": 10, "sent": 9, "delivered": 7, "failed": 2, "pending": 1, "ignored": 0,
    "sent_rate": 9 / 10, "delivered_rate": 7 / 9, "failed_rate": 2 / 9,
    "opens": 6, "opens_human": 4, "clicks": 2, "clicks_human": 1,
    "mirror_views": 1, "unsubscriptions": 1,
    "open_rate": 6 / 7, "open_rate_human": 4 / 7,
    "click_rate": 2 / 7, "click_rate_human": 1 / 7,
    "failures_by_type": {"hard": 1, "soft": 1},
    "failures_by_reason": [{"type": "hard", "reason": "user_unknown", "count": 1},
                           {"type": "soft", "reason": "mailbox_full", "count": 1}],
}


def test_every_kpi_by_hand(delivery):
    assert kpis.compute_from_engagement(delivery.pk) == EXPECTED


def test_compute_stats_rebuilds_the_same_numbers_and_stores_them(delivery):
    MessageEngagement.objects.filter(delivery_id=delivery.pk).delete()  # lost, say
    assert kpis.compute_from_engagement(delivery.pk)["opens"] == 0
    assert kpis.compute_stats(delivery.pk, now=T0) == EXPECTED
    stored = DeliveryKpis.objects.get(delivery=delivery)
    assert stored.values == EXPECTED and stored.computed_at == T0


def test_a_message_opened_by_a_machine_and_then_a_person_counts_once_each_way():
    _, rows = delivery_with_rows(["sent"])
    record_events([event(rows[0], "open", 1, machine=True), event(rows[0], "open", 9)])
    figures = kpis.compute_from_engagement(rows[0].delivery_id)
    assert (figures["opens"], figures["opens_human"]) == (1, 1)
    engagement = MessageEngagement.objects.get(row_id=rows[0].pk)
    assert engagement.opened_at < engagement.human_opened_at


def test_nothing_sent_yet_gives_zero_rates_not_errors():
    delivery, _ = delivery_with_rows(["pending", "pending"])
    figures = kpis.compute_stats(delivery.pk)
    assert figures["to_deliver"] == 2 and figures["sent"] == 0
    rates = [name for name in figures if name.endswith(("_rate", "_rate_human"))]
    assert len(rates) == 7 and all(figures[name] == 0.0 for name in rates)
    assert figures["failures_by_type"] == {} and figures["failures_by_reason"] == []


def test_an_unknown_delivery_has_empty_kpis():
    assert kpis.compute_from_engagement(987654)["sent"] == 0


def test_the_hourly_refresh_covers_deliveries_sending_or_recently_moved():
    live, _ = delivery_with_rows(["sent"], status="in_progress", label="live")
    recent, _ = delivery_with_rows(["sent"], label="recent")
    old, _ = delivery_with_rows(["sent"], label="old")
    never, _ = delivery_with_rows([], status="editing", label="never started")
    Delivery.objects.filter(pk=never.pk).update(started_at=None)
    now = T0 + timedelta(days=60)
    Delivery.objects.filter(pk=recent.pk).update(updated_at=now - timedelta(days=29))
    Delivery.objects.filter(pk=old.pk).update(updated_at=now - timedelta(days=31))
    Delivery.objects.filter(pk=live.pk).update(updated_at=now - timedelta(days=90))
    assert kpis.refresh_recent(now) == 2
    assert set(DeliveryKpis.objects.values_list("delivery_id", flat=True)) == {
        live.pk, recent.pk}
    assert {k.computed_at for k in DeliveryKpis.objects.all()} == {now}
