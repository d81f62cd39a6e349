"""The Deployment block's charts: figures cut on the server in the reader's locale and
zone, drawn by Chart.js, with the same figures as text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from envoi.sending.models import SendingLog
from envoi.web import charts
from tests.web.browser import screenshot
from tests.web.conftest import PASSWORD
from tests.web.test_pages import sent_delivery  # noqa: F401  (a fixture)

MINUTE = timedelta(minutes=1)


def test_failures_are_sorted_largest_first_with_their_counts():
    chart = charts.by_category("failures", "Failures", [("Mailbox full", 2),
                                                        ("User unknown", 9), ("Refused", 4)])
    assert chart.labels == ["User unknown", "Refused", "Mailbox full"]
    assert chart.series[0].values == [9, 4, 2]
    assert chart.rows[0] == ("User unknown", [9])


def test_throughput_is_a_rate_per_minute():
    start = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    hourly = {start: 600, start + timedelta(hours=2): 60}
    chart = charts.rate_over_time("throughput", "Throughput", timedelta(hours=1), hourly, "Sent")
    assert chart.kind == "line"
    assert chart.series[0].values == [10.0, 0.0, 1.0]  # the hour in between sent nothing


@pytest.mark.parametrize(("language", "zone", "label"), [
    ("ko", "Asia/Seoul", "2026. 12. 6. 오후 2:05"),
    ("ja", "Asia/Tokyo", "2026/12/06 14:05"),
    ("en", "America/New_York", "Dec 6, 2026, 12:05 AM")])
def test_buckets_are_named_in_the_readers_locale_and_zone(language, zone, label):
    moment = datetime(2026, 12, 6, 5, 5, tzinfo=UTC)
    with translation.override(language), timezone.override(zone):
        chart = charts.counts_over_time("engagement", "Opens", MINUTE,
                                        {"opens": {moment: 3}}, {"opens": "Opens"})
        assert chart.labels == [label]
        assert zone in chart.x_title


@pytest.mark.django_db(transaction=True)
def test_the_fragment_carries_the_figures_for_the_canvas_and_as_text(sent_delivery):  # noqa: F811
    from envoi.accounts.services import create_user

    SendingLog.objects.filter(delivery=sent_delivery).update(
        sent_at=sent_delivery.started_at)
    create_user("watcher", ["approve_deliveries"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.login(username="watcher", password=PASSWORD)
    page = client.get(f"/deliveries/{sent_delivery.pk}/charts/").content.decode()
    specs = {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r'<script id="(chart-[a-z]+)" type="application/json">(.*?)</script>', page)}
    assert set(specs) == {"chart-engagement", "chart-throughput"}  # nothing failed
    sent = SendingLog.objects.filter(delivery=sent_delivery, status="sent").count()
    assert specs["chart-throughput"]["kind"] == "line"
    assert sum(specs["chart-throughput"]["series"][0]["values"]) == sent  # one minute
    assert 'data-chart="chart-engagement"' in page and "<table" in page
    assert "時刻" in specs["chart-engagement"]["x_title"]


@pytest.mark.django_db(transaction=True)
def test_chart_js_draws_the_charts_in_the_browser(sent_delivery, people):  # noqa: F811
    person = people("chart-reader", "approve_deliveries", "ko")
    page = person.page
    page.goto(f"/deliveries/{sent_delivery.pk}/")
    page.locator("canvas[data-drawn]").first.wait_for()
    drawn = page.evaluate("() => Object.keys(Chart.instances).length")
    assert drawn >= 2
    page.locator(".charts").scroll_into_view_if_needed()
    screenshot(page, "dashboard-charts-ko")

