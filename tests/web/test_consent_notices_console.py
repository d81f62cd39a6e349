"""The consent notices in the console: the compliance page's monthly counts (overdue in
red), the notices on a profile's page, and the page in Chromium in en/ko/ja with a
screenshot each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from envoi import clock as envoi_clock
from envoi.audiences.models import Profile
from envoi.consent import notices
from envoi.consent.compliance import notice_months
from envoi.consent.models import ConsentNotice, Source
from envoi.consent.services import Evidence, record_consent, withdraw_consent
from tests.web.browser import screenshot
from tests.web.conftest import signed_in

GRANTED_AT = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
IMPORTED = Evidence(Source.IMPORT, wording="imported with consent")
BY_HAND = Evidence(Source.CONSOLE, wording="said yes on the phone")


@pytest.fixture(autouse=True)
def notices_on(settings):
    settings.ENVOI_CONSENT_NOTICES = "1"


def history(relay, clock) -> dict[str, Profile]:
    """Two reconfirmations due in March 2026 (one refused by the relay), an opt-out of
    April that could never be told, and an opt-in of May told at once."""
    clock.set(GRANTED_AT)
    people = {address: Profile.objects.create(email=address, language="ko")
              for address in ("old@example.kr", "refused@example.kr", "new@example.kr",
                              "left@example.kr")}
    record_consent(people["old@example.kr"], "email", IMPORTED)
    record_consent(people["refused@example.kr"], "email", IMPORTED)
    record_consent(people["left@example.kr"], "email", IMPORTED)
    clock.set(datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
    withdraw_consent(people["left@example.kr"], "email", BY_HAND)
    clock.set(NOW)
    record_consent(people["new@example.kr"], "email", BY_HAND)
    relay.script("refused@example.kr", "550 5.1.1 No such user")
    relay.script("left@example.kr", "550 5.1.1 No such user")
    for _ in range(notices.MAX_ATTEMPTS):
        notices.run(clock.advance(hours=1))
    # The opt-out's notice failed for good: the ledger row is kept, unsent and late.
    return people


@pytest.mark.django_db
def test_monthly_counts_and_overdue(relay, clock):
    history(relay, clock)
    months = {m.month.strftime("%Y-%m"): m for m in notice_months(envoi_clock.now())}
    march, april, may = months["2026-03"], months["2026-04"], months["2026-05"]
    assert (march.reconfirm_due, march.reconfirm_sent, march.reconfirm_failed) == (2, 1, 1)
    assert march.overdue == 2  # due on 4 March, told on 20 May (or never): too late
    assert (april.results_due, april.results_sent, april.results_failed) == (1, 0, 1)
    assert april.overdue == 1
    assert (may.results_due, may.results_sent, may.overdue) == (1, 1, 0)
    assert len(months) == 12


@pytest.mark.django_db
def test_owed_notices_count_before_the_job_reaches_them(clock):
    clock.set(GRANTED_AT)
    record_consent(Profile.objects.create(email="a@example.kr"), "email", IMPORTED)
    clock.set(GRANTED_AT.replace(year=2026) + timedelta(days=20))
    (month,) = [m for m in notice_months(envoi_clock.now())
                if m.month.strftime("%Y-%m") == "2026-03"]
    assert (month.reconfirm_due, month.reconfirm_sent, month.overdue) == (1, 0, 1)
    assert ConsentNotice.objects.count() == 0


@pytest.mark.django_db
def test_the_page_and_the_profile_history(relay, clock):
    people = history(relay, clock)
    client = signed_in("auditor", "approve_deliveries", language="ko")
    page = client.get("/compliance/consent-notices/").content.decode()
    row = re.search(r'<tr data-month="2026-04">(.*?)</tr>', page, re.S).group(1)
    assert 'data-state="red">1<' in row
    profile_page = client.get(f"/profiles/{people['old@example.kr'].pk}/").content.decode()
    assert "수신 동의 여부 확인" in profile_page and "<td>보냄</td>" in profile_page
    importer = signed_in("loader", "import", language="en")
    assert importer.get("/compliance/consent-notices/").status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_the_compliance_page_in_the_browser(people, relay, clock, language):
    history(relay, clock)
    viewer = people(f"viewer-{language}", "approve_deliveries", language)
    page = viewer.page
    page.goto("/deliveries/")
    page.get_by_role("link", name=viewer.t("Consent notices")).click()
    page.wait_for_url("**/compliance/consent-notices/")
    assert page.locator('tr[data-month="2026-04"] [data-state="red"]').inner_text() == "1"
    assert viewer.t("Reconfirmations due") in page.content()
    screenshot(page, f"console-consent-notices-{language}")
