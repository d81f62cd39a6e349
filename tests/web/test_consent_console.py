"""A profile's consent, editing, export and erasure in the console, in Chromium (and
the subscription form's page with its snippet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.consent.models import ConsentEvent, Erasure, PublicList
from envoi.consent.services import has_consent

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_administrator_edits_records_consent_exports_and_erases(people):
    vip = Audience.objects.create(name="VIP", kind=Audience.LIST)
    create_profiles([{"email": "jiwoo@example.kr", "first_name": "지우", "last_name": "한",
                      "language": "ko"}])
    profile = Profile.objects.get()
    admin = people("admin", "administration", "ko")
    page = admin.page
    page.goto(f"/profiles/{profile.pk}/")
    page.get_by_role("link", name=admin.t("Edit the profile")).click()
    page.fill("#id_attributes", '{"vip": true, "points": 120}')
    page.fill("#id_timezone", "Mars/Olympus")
    page.get_by_label("VIP").check()
    page.get_by_role("button", name=admin.t("Save"), exact=True).click()
    assert admin.t("Enter a time zone name such as Asia/Seoul.") in page.content()
    page.fill("#id_timezone", "Asia/Seoul")
    page.get_by_role("button", name=admin.t("Save"), exact=True).click()
    page.wait_for_url(f"**/profiles/{profile.pk}/")
    profile.refresh_from_db()
    assert profile.attributes == {"vip": True, "points": 120}
    assert profile.timezone == "Asia/Seoul" and vip.members.filter(profile=profile).exists()

    page.fill("input[name=wording]", "매장에서 구두로 수신 동의")
    page.get_by_role("button", name=admin.t("Record consent")).click()
    page.wait_for_url(f"**/profiles/{profile.pk}/")
    assert has_consent(profile, "email")
    assert ConsentEvent.objects.get().source == "console"
    assert "매장에서 구두로 수신 동의" in page.get_by_test_id("consents").inner_text()
    from tests.web.browser import screenshot

    screenshot(page, "console-profile-consent-ko")

    with page.expect_download() as download:
        page.get_by_role("link", name=admin.t("Export this profile's data (JSON)")).click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["profile"]["attributes"]["points"] == 120

    page.get_by_label(admin.t("I understand: the personal data is removed for good.")).check()
    page.get_by_test_id("erase").click()
    page.wait_for_url(f"**/profiles/{profile.pk}/")
    assert page.get_by_test_id("erased").is_visible()
    screenshot(page, "console-profile-erased-ko")
    profile.refresh_from_db()
    assert profile.email == "" and profile.attributes == {}
    assert Erasure.objects.filter(profile_id=profile.pk).exists()


def test_the_subscription_form_page_offers_a_snippet_and_public_lists(people):
    Audience.objects.create(name="newsletter", kind=Audience.LIST)
    marketer = people("mira", "prepare_deliveries", "ja")
    page = marketer.page
    page.goto("/audiences/")
    page.get_by_role("link", name=marketer.t("Subscription form")).click()
    snippet = page.get_by_test_id("snippet").input_value()
    assert "/subscribe/embedded" in snippet and marketer.t("Subscribe") in snippet
    page.fill("input[name=title]", "週刊ニュース")
    page.get_by_label(marketer.t("Public"), exact=True).check()
    page.get_by_role("button", name=marketer.t("Save"), exact=True).click()
    assert PublicList.objects.get().title == "週刊ニュース"
    from tests.web.browser import screenshot

    screenshot(page, "console-subscription-form-ja")
