"""``bulk_sender``'s one-click unsubscription: the rule set checks no content for it
because the renderer writes List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) on
every delivery message. This holds it to that, end to end: a bulk_sender delivery from
a green sending domain (real DNS on loopback) prepares without a red finding, and every
message a real SMTP server receives carries both headers, covered by both DKIM
signatures, with a link whose one-click POST unsubscribes."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.consent.services import has_consent
from envoi.deliveries import services
from tests.sending.email.test_domains import DOMAIN, dns, good  # noqa: F401 (fixtures)
from tests.support.deliveries import boss
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db

RECIPIENTS = ("minji@example.kr", "taro@example.jp")


@pytest.mark.usefixtures("good")
def test_every_message_of_a_bulk_sender_delivery_offers_one_click(relay, send_all, settings):
    settings.ENVOI_REQUIRE_CONSENT = False
    create_profiles([{"email": address} for address in RECIPIENTS])
    audience = Audience.objects.create(name="Shop", filter="")
    delivery = services.create(
        boss(), label="Sale", sender=f"Shop <news@{DOMAIN}>", subject="Spring sale",
        html_body='<p>Sale</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        text_body="", audience=audience, typology=["bulk_sender"], approval_required=False)
    delivery = services.prepare(boss(), delivery)
    assert not delivery.preparation_messages.filter(level="error").exists(), list(
        delivery.preparation_messages.values_list("message", flat=True))
    services.confirm(boss(), delivery)
    send_all()

    assert sorted(m.rcpt_to[0] for m in relay.messages) == sorted(RECIPIENTS)
    for received in relay.messages:
        message = parse(received.data)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = re.fullmatch(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"])
        assert link, message["List-Unsubscribe"]
        signatures = message.get_all("DKIM-Signature")
        assert len(signatures) == 2  # RSA and Ed25519
        for signature in signatures:
            signed = re.search(r"\bh=([^;]+)", signature).group(1)
            names = {name.strip().lower() for name in signed.replace("\r\n", "").split(":")}
            assert {"list-unsubscribe", "list-unsubscribe-post"} <= names, signed

    first = parse(relay.messages[0].data)
    path = re.search(r"/u/[^>]+", first["List-Unsubscribe"]).group(0)
    answer = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    person = Profile.objects.get(email=relay.messages[0].rcpt_to[0])
    person.refresh_from_db()
    assert person.email_opt_out and not has_consent(person, "email")
