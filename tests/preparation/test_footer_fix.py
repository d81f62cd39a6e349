"""The one-click footer fix of the market rules on every kind of content: HTML with a
text part, a text-only email (no HTML part is made for it), and a Korean advertising
SMS (the sender line and the free 080 number)."""

from __future__ import annotations

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.deliveries.services import DeliveryError
from envoi.preparation.rules.fixes import apply_fix
from tests.support.deliveries import boss

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def brand(settings):
    settings.ENVOI_BRAND_NAME = "Envoi Shop"
    settings.ENVOI_BRAND_ADDRESS = "〒100-0001 東京都千代田区1-1"
    settings.ENVOI_BRAND_CONTACT = "02-1234-5678"
    settings.ENVOI_KR_OPT_OUT_NUMBER = "080-123-4567"
    settings.ENVOI_REQUIRE_CONSENT = False


def prepared(**fields):
    create_profiles([{"email": "minji@example.kr", "phone": "+821012345678"}])
    audience = Audience.objects.create(name="Seoul", filter="")
    payload = {"label": "Ad", "sender": "Envoi Shop <news@shop.example.com>",
               "subject": "(광고) 봄 세일", "html_body": "", "text_body": "",
               "audience": audience, "typology": ["kr_advertising"], **fields}
    return services.prepare(boss(), services.create(boss(), **payload))


def korean_findings(delivery) -> set[str]:
    return {m.code for m in delivery.preparation_messages.filter(level="error")
            if m.code.startswith("kr_advertising.")}


def test_a_text_only_email_gets_the_footer_in_its_text_part():
    delivery = prepared(text_body="봄 세일 20%")
    assert {"kr_advertising.sender", "kr_advertising.opt_out"} <= korean_findings(delivery)
    fixed = apply_fix(boss(), delivery, "footer")
    assert fixed.html_body == ""  # no HTML part made of the footer alone
    assert fixed.text_body.startswith("봄 세일 20%\n\n")
    assert "수신거부" in fixed.text_body and "{{ unsubscribe_url }}" in fixed.text_body
    assert "Envoi Shop | 〒100-0001 東京都千代田区1-1 | 02-1234-5678" in fixed.text_body
    assert korean_findings(services.prepare(boss(), fixed)) == set()


def test_html_and_text_parts_both_get_it():
    delivery = prepared(html_body="<p>봄 세일</p>", text_body="봄 세일")
    fixed = apply_fix(boss(), delivery, "footer")
    assert '<footer class="envoi-footer">' in fixed.html_body
    assert "수신거부" in fixed.text_body.split("\n\n", 1)[1]
    assert korean_findings(services.prepare(boss(), fixed)) == set()


def test_a_korean_advertising_sms_gets_the_sender_and_the_free_number(settings):
    delivery = prepared(channel="sms", sender="15881234", subject="",
                        text_body="(광고) 봄 세일 20%")
    assert {"kr_advertising.sender", "kr_advertising.opt_out"} <= korean_findings(delivery)
    fixed = apply_fix(boss(), delivery, "footer")
    assert fixed.text_body == ("(광고) 봄 세일 20%\nEnvoi Shop 02-1234-5678\n"
                               "무료수신거부 080-123-4567")
    assert korean_findings(services.prepare(boss(), fixed)) == set()
    settings.ENVOI_KR_OPT_OUT_NUMBER = ""
    with pytest.raises(DeliveryError, match="080"):
        apply_fix(boss(), fixed, "footer")
