"""Must show "Double opt-in, in Chromium": a Korean visitor subscribes on the hosted
form, the confirmation mail arrives through a real SMTP server, its link is followed
and confirmed, and the profile is then sendable with a consent record. Then every
recipient page is photographed in en, ko and ja (artifacts/recipient-*.png)."""

from __future__ import annotations

import re

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.consent.models import ConsentEvent, PublicList
from envoi.consent.services import Evidence, has_consent, request_consent
from envoi.consent.subscription import confirmation_link
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from tests.support.deliveries import boss
from tests.support.scenario import parse
from tests.web.browser import DESKTOP_AGENT, screenshot, text

pytestmark = pytest.mark.django_db(transaction=True)

BRAND = {"ENVOI_BRAND_NAME": "Hanbit Shop",
         "ENVOI_BRAND_COLOR": "#0f766e",
         "ENVOI_BRAND_FOOTER": "Hanbit Shop Co., Ltd. · 123 Teheran-ro, Gangnam-gu, "
                               "Seoul 06234, Korea\\nBusiness registration 123-45-67890"}


@pytest.fixture
def recipient_site(live_server, relay, settings):
    settings.ENVOI_BASE_URL = live_server.url
    settings.ENVOI_REQUIRE_CONSENT = True
    settings.ENVOI_SUBSCRIBE_MIN_SECONDS = 1
    for name, value in BRAND.items():
        setattr(settings, name, value)
    return live_server


def visitor(browser, live_server, language: str):
    locale = {"en": "en-GB", "ko": "ko-KR", "ja": "ja-JP"}[language]
    context = browser.new_context(locale=locale, user_agent=DESKTOP_AGENT,
                                  base_url=live_server.url,
                                  viewport={"width": 900, "height": 800})
    return context, context.new_page()


def test_double_opt_in_in_korean(browser, recipient_site, relay, send_all):
    news = Audience.objects.create(name="newsletter", kind=Audience.LIST)
    PublicList.objects.create(audience=news, title="봄 신상품 소식")
    context, page = visitor(browser, recipient_site, "ko")
    try:
        page.goto("/subscribe")
        assert page.locator("h1").inner_text() == "Hanbit Shop 구독"
        page.fill("#email", "yuna.park@example.kr")
        page.fill("#first_name", "유나")
        page.get_by_label("봄 신상품 소식").check()
        page.wait_for_timeout(1100)  # a person takes longer than the minimum fill time
        page.get_by_role("button", name="구독").click()
        assert page.locator("h1").inner_text() == "받은편지함을 확인하세요"

        profile = Profile.objects.get(email="yuna.park@example.kr")
        assert profile.language == "ko" and not has_consent(profile, "email")
        (mail,) = relay.messages
        message = parse(mail.data)
        assert message["Subject"] == "Hanbit Shop 구독을 확인해 주세요"
        body = message.get_body(("plain",)).get_content()
        assert "123 Teheran-ro" in body
        link = re.search(r"(http://\S+/subscribe/confirm/\S+)", body).group(1)

        page.goto(link)
        assert page.locator("h1").inner_text() == "구독을 확인해 주세요"
        page.get_by_role("button", name="구독 확인").click()
        assert page.locator("h1").inner_text() == "구독되었습니다"
    finally:
        context.close()

    assert has_consent(profile, "email")
    assert news.members.filter(profile=profile).exists()
    request, confirmed = ConsentEvent.objects.filter(consent__profile=profile).order_by("id")
    assert (request.source, request.language, request.ip) == ("form", "ko", "127.0.0.1")
    assert request.wording.startswith("네, Hanbit Shop의 소식과 혜택을")
    assert request.user_agent == DESKTOP_AGENT
    assert (confirmed.move, confirmed.status) == ("confirm", "granted")

    # Sendable: a marketing delivery that requires consent takes it, and only it.
    create_profiles([{"email": "never.asked@example.kr", "language": "ko"}])
    everyone = Audience.objects.create(name="everyone", filter="")
    delivery = services.create(boss(), label="Spring", sender="news@hanbit.example",
                               subject="봄", text_body="{{ unsubscribe_url }}",
                               audience=everyone, approval_required=False)
    delivery = services.prepare(boss(), delivery)
    assert delivery.require_consent
    assert delivery.to_deliver == 1 and delivery.exclusions == {"no_consent": 1}
    services.confirm(boss(), delivery)
    send_all()
    assert SendingLog.objects.get(delivery=delivery).status == "sent"


def sent_row(language: str, send_all) -> SendingLog:
    """A message sent to a profile speaking ``language``."""
    address = f"reader.{language}@example.com"
    create_profiles([{"email": address, "first_name": "Reader", "language": language}])
    audience = Audience.objects.create(name=f"readers {language}",
                                       filter=f'email = "{address}"')
    delivery = services.create(boss(), label=f"News {language}", sender="news@hanbit.example",
                               subject="News", text_body="{{ unsubscribe_url }}",
                               html_body="<p>{{ 1 | divided_by: attributes.zero }}</p>"
                                         '<a href="{{ unsubscribe_url }}">u</a>',
                               audience=audience, approval_required=False,
                               require_consent=False)
    services.confirm(boss(), services.prepare(boss(), delivery))
    send_all()
    return SendingLog.objects.get(delivery=delivery)


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_every_recipient_page_in_each_language(browser, recipient_site, send_all,
                                               language):
    PublicList.objects.create(audience=Audience.objects.create(name="tips", kind="list"),
                              title={"en": "Weekly tips", "ko": "주간 팁",
                                     "ja": "週刊ヒント"}[language])
    row = sent_row(language, send_all)
    token = tokens.sign("unsubscribe", row.pk)
    mirror = tokens.MessageTokens(row.delivery_id, row.pk).urls("", 1).mirror
    profile = Profile.objects.get(pk=row.profile_id)
    request_consent(profile, "email", Evidence("form", wording="test"))
    confirm = confirmation_link(profile, ()).split("/subscribe/", 1)[1]
    context, page = visitor(browser, recipient_site, language)

    def shot(page_name: str, heading: str, **values: str) -> None:
        expected = text(language, heading) % values if values else text(language, heading)
        assert page.locator("h1").first.inner_text() == expected, page_name
        assert page.locator("footer.legal").inner_text().startswith("Hanbit Shop Co., Ltd.")
        screenshot(page, f"recipient-{page_name}-{language}")

    try:
        page.goto("/subscribe")
        shot("subscribe", "Subscribe to %(name)s", name="Hanbit Shop")
        page.fill("#email", "not an address@")
        page.evaluate("document.querySelector('form').noValidate = true")
        page.wait_for_timeout(1100)
        page.get_by_role("button", name=text(language, "Subscribe"), exact=True).click()
        assert page.locator("p.error").inner_text() == text(language,
                                                            "Enter a valid email address.")
        shot("subscribe-error", "Subscribe to %(name)s", name="Hanbit Shop")
        page.goto(f"/subscribe/{confirm}")
        shot("confirm", "Confirm your subscription")
        page.get_by_role("button", name=text(language, "Confirm my subscription")).click()
        shot("subscribed", "You are subscribed")
        page.goto(f"/u/{token}")
        shot("unsubscribe", "Unsubscribe")
        page.goto(f"/p/{token}")
        shot("preferences", "Your preferences")
        page.get_by_role("button", name=text(language, "Save my choices")).click()
        shot("preferences-saved", "Your preferences")
        page.goto(f"/u/{token}")
        page.select_option("#reason", "too_many")
        page.get_by_role("button", name=text(language, "Unsubscribe")).click()
        shot("unsubscribed", "You are unsubscribed")
        page.goto(mirror)
        shot("mirror-unavailable", "This message cannot be shown")
        page.goto("/c/not-a-token")
        shot("invalid-link", "This link has expired")
    finally:
        context.close()
