"""Must show "Market rules", in Chromium: a Korean advertising delivery without the
"(광고)" prefix is red and the console's fix makes it green; a Japanese one without the
sender's address is red and the footer fix makes it green (artifacts/market-*.png)."""

from __future__ import annotations

import pytest
from django.utils import translation

from envoi.audiences.models import Profile
from envoi.consent.services import Evidence, record_consent
from envoi.deliveries import services
from tests.support.deliveries import boss, seeded_audience
from tests.web.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def brand(settings):
    settings.ENVOI_BRAND_NAME = "Hanbit Shop"
    settings.ENVOI_BRAND_ADDRESS = "〒100-0001 東京都千代田区千代田1-1"
    settings.ENVOI_BRAND_CONTACT = "help@hanbit.example"
    audience = seeded_audience()
    for profile in Profile.objects.all():
        record_consent(profile, "email", Evidence(source="import"))
    return audience


def prepared(audience, **fields):
    delivery = services.create(boss(), label=fields.pop("label"),
                               sender="Hanbit Shop <news@shop.example.com>",
                               audience=audience, **fields)
    return services.prepare(boss(), delivery)


def errors(delivery) -> set[str]:
    return set(delivery.preparation_messages.filter(level="error")
               .values_list("code", flat=True))


@pytest.mark.parametrize(("language", "rule", "subject", "body", "fix", "red"), [
    ("ko", "kr_advertising", "봄 세일",
     "<p>봄 세일</p><p>Hanbit Shop | help@hanbit.example</p>"
     '<p><a href="{{ unsubscribe_url }}">수신거부</a></p>',
     "prefix", "kr_advertising.prefix"),
    ("ja", "jp_advertising", "春のセール",
     "<p>春のセール</p>", "footer", "jp_advertising.footer"),
])
def test_the_console_fix_turns_a_red_market_rule_green(people, brand, language, rule,
                                                       subject, body, fix, red):
    delivery = prepared(brand, label=f"Ad {language}", subject=subject, html_body=body,
                        typology=[rule])
    assert delivery.status == "preparation_failed" and red in errors(delivery)

    editor = people(f"editor_{language}", "prepare_deliveries", language)
    page = editor.page
    page.goto(f"/deliveries/{delivery.pk}/edit/")
    field = "subject" if fix == "prefix" else "html_body"
    assert "invalid" in page.locator(f".field:has(#id_{field})").first.get_attribute("class")
    screenshot(page, f"market-{rule}-red-{language}")
    page.locator(f"[data-testid=market-fixes] button[value={fix}]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("market-fixes").count() == 0
    assert "invalid" not in page.locator(f".field:has(#id_{field})").first.get_attribute(
        "class")
    screenshot(page, f"market-{rule}-green-{language}")

    delivery = services.prepare(boss(), type(delivery).objects.get(pk=delivery.pk))
    assert delivery.status == "pending_approval", errors(delivery)



def test_the_address_set_on_the_brand_page_is_what_the_japanese_rule_wants(people,
                                                                          settings):
    """No address anywhere: the finding says where to set it; an administrator sets it
    on the Brand page, and the footer fix writes that address in (artifacts/
    market-brand-*-ja.png)."""
    settings.ENVOI_BRAND_NAME = "Hanbit Shop"
    settings.ENVOI_BRAND_ADDRESS = settings.ENVOI_BRAND_CONTACT = ""
    audience = seeded_audience()
    for profile in Profile.objects.all():
        record_consent(profile, "email", Evidence(source="import"))
    with translation.override("ja"):  # findings are said in the preparer's language
        delivery = prepared(audience, label="Ad brand", subject="春のセール",
                            html_body="<p>春のセール</p>", typology=["jp_advertising"])
    assert "jp_advertising.footer" in errors(delivery)
    editor = people("editor_brand", "prepare_deliveries", "ja")
    editor.page.goto(f"/deliveries/{delivery.pk}/edit/")
    assert "送信者の住所（管理 → ブランド、または ENVOI_BRAND_ADDRESS）" in \
        editor.page.content()
    screenshot(editor.page, "market-brand-red-ja")

    admin = people("admin_brand", "administration", "ja")
    page = admin.page
    page.get_by_role("link", name=admin.t("Brand"), exact=True).click()
    page.fill("#id_address", "〒150-0002 東京都渋谷区渋谷1-2-3")
    page.fill("#id_contact", "03-1234-5678")
    page.get_by_role("button", name=admin.t("Save"), exact=True).click()
    page.wait_for_load_state()
    assert admin.t("The brand was saved. Recipient pages wear it now.") in page.content()
    screenshot(page, "market-brand-set-ja")

    editor.page.reload()
    editor.page.locator("[data-testid=market-fixes] button[value=footer]").click()
    editor.page.wait_for_load_state()
    assert editor.page.get_by_test_id("market-fixes").count() == 0
    screenshot(editor.page, "market-brand-green-ja")
    fixed = type(delivery).objects.get(pk=delivery.pk)
    assert "Hanbit Shop 〒150-0002 東京都渋谷区渋谷1-2-3" in fixed.html_body
    assert "お問い合わせ: 03-1234-5678" in fixed.html_body
    assert services.prepare(boss(), fixed).status == "pending_approval", errors(fixed)
