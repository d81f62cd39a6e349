"""Night-time consent of Korean advertising: a consent of its own (purpose ``night``),
kept with its proof, given through the API and the console, and the night hold of
``kr_advertising`` skipping the profiles that have it, with the controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.consent.models import Consent, Purpose, Source
from envoi.consent.services import Evidence, has_consent, record_consent, withdraw_consent
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.support.api import Api
from tests.support.deliveries import boss
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

KR_HTML = ("<p>봄 세일</p><p>Envoi Shop, 02-1234-5678</p>"
           '<p>수신거부: <a href="{{ unsubscribe_url }}">여기</a></p>')
AT_22_SEOUL = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
MORNING = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 on the 3rd in Seoul
SAID_YES = Evidence(Source.CONSOLE, wording="야간 광고 수신에 동의함")


@pytest.fixture(autouse=True)
def brand(settings):
    settings.ENVOI_BRAND_NAME = "Envoi Shop"
    settings.ENVOI_BRAND_CONTACT = "02-1234-5678"


def seoul(*addresses: str) -> dict[str, Profile]:
    create_profiles([{"email": a, "timezone": "Asia/Seoul", "language": "ko"}
                     for a in addresses])
    return {p.email: p for p in Profile.objects.filter(email__in=addresses)}


def prepared_advertising() -> object:
    audience = Audience.objects.create(name="Seoul", filter="")
    delivery = services.create(boss(), label="Ad", sender="Envoi Shop <news@shop.example>",
                               subject="(광고) 봄 세일", html_body=KR_HTML, text_body="",
                               audience=audience, time_zone="Asia/Seoul",
                               typology=["kr_advertising"])
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "pending_approval", list(
        delivery.preparation_messages.values_list("message", flat=True))
    return delivery


def due_times(delivery) -> dict[str, datetime]:
    return dict(SendingLog.objects.filter(delivery=delivery)
                .values_list("address", "next_attempt_at"))


def test_at_22_seoul_the_night_consenting_profile_is_due_now(clock):
    people = seoul("night@example.kr", "took-back@example.kr", "sms-only@example.kr",
                   "plain@example.kr")
    record_consent(people["night@example.kr"], "email", SAID_YES, Purpose.NIGHT)
    record_consent(people["took-back@example.kr"], "email", SAID_YES, Purpose.NIGHT)
    withdraw_consent(people["took-back@example.kr"], "email", SAID_YES, Purpose.NIGHT)
    record_consent(people["sms-only@example.kr"], "sms", SAID_YES, Purpose.NIGHT)
    clock.set(AT_22_SEOUL)
    delivery = prepared_advertising()
    assert due_times(delivery) == {"night@example.kr": AT_22_SEOUL,
                                   "took-back@example.kr": MORNING,
                                   "sms-only@example.kr": MORNING,
                                   "plain@example.kr": MORNING}
    assert delivery.start_at == AT_22_SEOUL


def test_without_night_consent_everyone_waits_for_the_morning(clock):
    seoul("a@example.kr", "b@example.kr")
    clock.set(AT_22_SEOUL)
    delivery = prepared_advertising()
    assert set(due_times(delivery).values()) == {MORNING}
    assert delivery.start_at == MORNING


def test_night_consent_is_its_own_record_and_never_opts_in_or_out():
    person = seoul("night@example.kr")["night@example.kr"]
    record_consent(person, "email", SAID_YES, Purpose.NIGHT)
    assert not has_consent(person, "email")  # marketing consent is still not given
    record_consent(person, "email", SAID_YES)
    withdraw_consent(person, "email", SAID_YES, Purpose.NIGHT)
    person.refresh_from_db()
    assert has_consent(person, "email") and not person.email_opt_out
    assert sorted(Consent.objects.values_list("purpose", "status")) == [
        ("marketing", "granted"), ("night", "withdrawn")]


def test_night_consent_through_the_api_and_the_console():
    person = seoul("night@example.kr")["night@example.kr"]
    admin = Api("admin", "administration")
    path = f"/profiles/{person.pk}/consents"
    given = admin.ok(admin.post(path, {"channel": "email", "status": "granted",
                                       "purpose": "night", "wording": "야간 수신 동의"}))
    assert [(c["channel"], c["purpose"], c["status"]) for c in given] == [
        ("email", "night", "granted")]
    assert given[0]["events"][0]["wording"] == "야간 수신 동의"
    refused = admin.post(path, {"channel": "email", "status": "granted", "purpose": "day"})
    assert refused.status_code in (400, 422)

    client = signed_in("clerk", "administration", language="ko")
    answer = client.post(f"/profiles/{person.pk}/consent/",
                         {"channel": "email", "purpose": "night", "status": "withdrawn"})
    assert answer.status_code == 302
    assert Consent.objects.get(purpose="night").status == "withdrawn"
    page = client.get(f"/profiles/{person.pk}/").content.decode()
    assert "야간 광고 수신(21:00-08:00)" in page and 'name="purpose"' in page
