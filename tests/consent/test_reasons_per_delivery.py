"""Unsubscribe reasons counted per delivery, where people read the delivery's results:
the console's Deployment block, the API's KPIs and the KPI export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from envoi.audiences.models import Audience
from envoi.consent.services import count_unsubscription, unsubscribe_reasons
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from tests.support.api import Api
from tests.support.deliveries import boss, prepared_delivery
from tests.support.scenario import parse
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(relay, send_all, settings):
    """A delivery of four messages, sent: one unsubscribed giving "too many", one "never
    signed up" on the preference centre, one by the RFC 8058 one-click POST."""
    settings.ENVOI_REQUIRE_CONSENT = False
    delivery = prepared_delivery("why", 4)
    services.confirm(boss(), delivery)
    send_all()
    tokens = [re.search(r"/u/(\S+)", parse(m.data).get_body(("plain",)).get_content())
              .group(1) for m in sorted(relay.messages, key=lambda m: m.rcpt_to[0])]
    client = Client()
    client.get(f"/p/{tokens[0]}")
    csrf = client.cookies["csrftoken"].value
    for token, reason in ((tokens[0], "too_many"), (tokens[1], "never_signed_up")):
        client.post(f"/p/{token}", {"action": "unsubscribe", "reason": reason,
                                    "csrfmiddlewaretoken": csrf})
    assert Client().post(f"/u/{tokens[2]}", {"List-Unsubscribe": "One-Click"}
                         ).status_code == 200
    return Delivery.objects.get(pk=delivery.pk)


def test_the_api_kpis_count_every_reason(sent):
    viewer = Api("vera", "approve_deliveries")
    answer = viewer.ok(viewer.get(f"/deliveries/{sent.pk}/kpis"))
    assert answer["unsubscribe_reasons"] == {"too_many": 1, "not_relevant": 0,
                                             "never_signed_up": 1, "other": 0, "none": 1}
    computed = viewer.ok(viewer.post(f"/deliveries/{sent.pk}/compute-stats"))
    assert computed["kpis"]["unsubscriptions"] == 3  # the engagement count agrees
    assert computed["unsubscribe_reasons"] == answer["unsubscribe_reasons"]


def test_the_kpi_export_has_a_column_per_reason(sent):
    exporter = Api("ed", "export")
    response = exporter.get("/exports/kpis", deliveries=str(sent.pk))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["unsubscribe_too_many"], row["unsubscribe_never_signed_up"],
            row["unsubscribe_none"], row["unsubscribe_other"]) == ("1", "1", "1", "0")


@pytest.mark.parametrize(("language", "title", "too_many", "none"), [
    ("en", "Unsubscribe reasons", "Too many messages", "No reason given"),
    ("ko", "수신 거부 사유", "메시지가 너무 많음", "사유 없음"),
    ("ja", "配信解除の理由", "メッセージが多すぎる", "理由なし"),
])
def test_the_deployment_block_shows_the_reasons(sent, language, title, too_many, none):
    client = signed_in(f"viewer-{language}", "approve_deliveries", language=language)
    page = client.get(f"/deliveries/{sent.pk}/").content.decode()
    block = page.split('data-testid="unsubscribe-reasons"')[1].split("</div>")[0]
    assert title in block and f"{too_many}: <strong>1</strong>" in block
    assert f"{none}: <strong>1</strong>" in block
    assert 'data-reason="other"' not in block  # reasons nobody gave are left out


def test_a_recurring_delivery_counts_its_executions(relay):
    audience = Audience.objects.create(name="everyone", filter="")
    made = [services.create(boss(), label=f"d{i}", sender="a@example.com", subject="s",
                            text_body="x", audience=audience) for i in range(3)]
    parent, first, second = made
    for execution, period in ((first, "2026-12-05"), (second, "2026-12-06")):
        Delivery.objects.filter(pk=execution.pk).update(parent=parent, period=period)
    count_unsubscription(first.pk, 101, "too_many")
    count_unsubscription(second.pk, 102, "too_many")
    count_unsubscription(second.pk, 103, "")
    count_unsubscription(second.pk, 103, "other")  # a reason given after one-click
    assert unsubscribe_reasons([parent.pk, second.pk]) == {
        parent.pk: {"too_many": 2, "other": 1}, second.pk: {"too_many": 1, "other": 1}}
