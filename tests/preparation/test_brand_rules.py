"""The market rules check against the brand set in the console (Administration → Brand)
over the ENVOI_BRAND_* defaults, their findings say where to set it in the reader's
language, and the one-click footer fix writes in the console brand."""

from __future__ import annotations

import pytest
from django.utils import translation

from envoi.audiences.models import Profile
from envoi.consent.brand import BrandChange, save_brand
from envoi.consent.services import Evidence, record_consent
from envoi.deliveries import services
from envoi.preparation.rules.fixes import apply_fix
from tests.support.deliveries import boss, seeded_audience
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

NAME = "Sakura Shop"
ADDRESS = "〒150-0002 東京都渋谷区渋谷1-2-3"
CONTACT = "03-1234-5678"
JP_HTML = (f"<p>春のセール</p><p>{NAME} {ADDRESS} お問い合わせ: {CONTACT}</p>"
           '<p>配信停止は<a href="{{ unsubscribe_url }}">こちら</a></p>')


@pytest.fixture(autouse=True)
def nothing_in_the_environment(settings):
    """No address or contact anywhere until the console sets them."""
    settings.ENVOI_BRAND_NAME = "Envoi"
    settings.ENVOI_BRAND_ADDRESS = ""
    settings.ENVOI_BRAND_CONTACT = ""
    settings.ENVOI_BRAND_FOOTER = ""
    settings.ENVOI_KR_OPT_OUT_NUMBER = "080-123-4567"


@pytest.fixture
def consenting():
    audience = seeded_audience()
    for profile in Profile.objects.all():  # consent is not what is judged here
        record_consent(profile, "email", Evidence(source="import"))
    return audience


def prepared(audience, language="en", **fields):
    payload = {"label": "Ad", "sender": f"{NAME} <news@shop.example.com>",
               "subject": "春のセール", "html_body": JP_HTML, "text_body": "",
               "audience": audience, "typology": ["jp_advertising"], **fields}
    with translation.override(language):
        return services.prepare(boss(), services.create(boss(), **payload))


def finding(delivery, code):
    return delivery.preparation_messages.filter(level="error", code=code).first()


def japanese_errors(delivery) -> set[str]:
    return {m.code for m in delivery.preparation_messages.filter(level="error")
            if m.code.startswith("jp_advertising.")}


def brand_set_by_service(**fields):
    save_brand(boss(), BrandChange(**{"name": NAME, "color": "", "footer": "",
                                      "address": ADDRESS, "contact": CONTACT, **fields}))


def test_red_without_an_address_anywhere_green_once_the_service_sets_it(consenting):
    red = prepared(consenting)
    message = finding(red, "jp_advertising.footer").message
    assert "the sender's postal address (Administration → Brand, or " \
           "ENVOI_BRAND_ADDRESS)" in message
    assert "contact for enquiries (Administration → Brand" in message
    brand_set_by_service()
    green = prepared(consenting)
    assert japanese_errors(green) == set()


@pytest.mark.parametrize(("language", "where"), [
    ("ja", "送信者の住所（管理 → ブランド、または ENVOI_BRAND_ADDRESS）"),
    ("ko", "발신자 주소(관리 → 브랜드 또는 ENVOI_BRAND_ADDRESS)"),
])
def test_the_finding_says_where_to_set_it_in_the_readers_language(consenting, language,
                                                                  where):
    red = prepared(consenting, language=language)
    assert where in finding(red, "jp_advertising.footer").message


def test_green_once_the_console_page_sets_the_address(consenting):
    assert "jp_advertising.footer" in japanese_errors(prepared(consenting))
    admin = signed_in("ada", "administration")
    saved = admin.post("/admin/brand/", {"name": NAME, "address": ADDRESS,
                                          "contact": CONTACT})
    assert saved.status_code == 302
    assert japanese_errors(prepared(consenting)) == set()
    page = admin.get("/admin/brand/").content.decode()
    assert f'value="{ADDRESS}"' in page and f'value="{CONTACT}"' in page


def test_the_footer_fix_writes_in_the_console_brand(consenting):
    brand_set_by_service()
    delivery = prepared(consenting, html_body="<p>春のセール</p>", text_body="春のセール")
    assert "jp_advertising.footer" in japanese_errors(delivery)
    fixed = apply_fix(boss(), delivery, "footer")
    for part in (fixed.html_body, fixed.text_body):
        assert f"{NAME} {ADDRESS}" in part and f"お問い合わせ: {CONTACT}" in part
        assert "Envoi " not in part  # not the environment's name
    assert japanese_errors(services.prepare(boss(), fixed)) == set()


def test_the_korean_sms_fix_uses_the_console_contact():
    brand_set_by_service(address="")
    delivery = prepared(seeded_audience(), channel="sms", sender="15881234", subject="",
                        html_body="", text_body="(광고) 봄 세일 20%",
                        typology=["kr_advertising"])
    fixed = apply_fix(boss(), delivery, "footer")
    assert fixed.text_body == (f"(광고) 봄 세일 20%\n{NAME} {CONTACT}\n"
                               "무료수신거부 080-123-4567")
    korean = {m.code for m in services.prepare(boss(), fixed).preparation_messages
              .filter(level="error") if m.code.startswith("kr_advertising.")}
    assert korean == set()


def test_the_korean_rule_names_the_console_for_a_missing_contact():
    delivery = prepared(seeded_audience(), language="ko", subject="(광고) 봄 세일",
                        html_body="<p>Envoi</p>", typology=["kr_advertising"])
    message = finding(delivery, "kr_advertising.sender").message
    assert "발신자 연락처(관리 → 브랜드 또는 ENVOI_BRAND_CONTACT)" in message
