"""The runs of a recurring MJML delivery send its language variants too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envoi.accounts.services import create_user
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from tests.content.support import DEFAULT_MJML, VARIANTS, html_of, make_people
from tests.support.deliveries import boss
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db


def test_each_run_sends_every_variant(clock, relay, send_all):
    make_people()
    audience = Audience.objects.create(name="everyone", filter="")
    parent = services.create(boss(), label="Weekly", sender="news@example.com",
                             subject="News for {{ first_name }}", content_mode="mjml",
                             mjml_body=DEFAULT_MJML, variants=VARIANTS, audience=audience,
                             recurrence={"every": "day", "at": "09:00",
                                         "request_confirmation": False})
    parent = services.approve(boss(), services.prepare(boss(), parent))
    services.confirm(create_user("stella", ["start_deliveries"]), parent)
    clock.set(datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    send_all()
    execution = Delivery.objects.get(parent=parent)
    assert execution.status == "finished", execution.status
    assert execution.variant_counts == {"ko": 2, "ja": 1, "": 3}
    html = {m.rcpt_to[0]: html_of(parse(m.data)) for m in relay.messages}
    assert "こんにちは Haruto" in html["haruto@example.jp"]
    assert "안녕하세요 Minji" in html["minji@example.com"]
    assert "Hello Ada" in html["ada@example.org"]
