"""The SMS channel in the console: the delivery form takes an SMS delivery, shows its
counter, and the dashboard shows the SMS exclusions by reason."""

from __future__ import annotations

import pytest

from envoi.deliveries.models import Delivery
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def sms_form(**overrides) -> dict:
    form = {"label": "봄 SMS", "channel": "sms", "sender": "Envoi", "subject": "",
            "text_body": "{{ first_name }}님, 봄 세일! 수신거부 STOP", "max_parts": "3",
            "is_marketing": "on", "approval_required": "on", "time_zone": "Asia/Seoul",
            "every": "day", "at": "09:00", "aggregation": "none"}
    form.update(overrides)
    return form


def test_the_form_creates_an_sms_delivery():
    client = signed_in("paula", "prepare_deliveries", language="ko")
    page = client.get("/deliveries/new/")
    assert b"data-sms-counter" in page.content and b"sms_counter.js" in page.content
    assert "SMS 한 건의 최대 분할 수" in page.content.decode()
    response = client.post("/deliveries/new/", sms_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.sender, delivery.max_parts) == ("sms", "Envoi", 3)


def test_an_sms_sender_that_no_smsc_takes_is_refused_where_it_is():
    client = signed_in("paula", "prepare_deliveries")
    response = client.post("/deliveries/new/", sms_form(sender="Envoi Shop Korea"))
    assert response.status_code == 400
    assert "a name of at most 11 characters" in response.content.decode()
    assert not Delivery.objects.exists()


def test_an_email_delivery_still_needs_a_subject():
    """The draft keeps (a form that keeps work), and its subject field says what is
    missing; preparation is what it blocks."""
    client = signed_in("paula", "prepare_deliveries")
    response = client.post("/deliveries/new/", sms_form(channel="email",
                                                        sender="news@example.com"),
                           follow=True)
    assert Delivery.objects.get().channel == "email"
    assert "The subject is empty." in response.content.decode()
