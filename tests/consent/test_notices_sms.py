"""Consent notices to SMS consents, by SMS through a real SMPP server (smpp34's), with
the controlled clock: the reconfirmation after two years and the result of a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.audiences.models import Profile
from envoi.consent import notices
from envoi.consent.compliance import notice_months
from envoi.consent.models import ConsentNotice, Source
from envoi.consent.services import Evidence, record_consent
from tests.support.smsc import SmscHarness

pytestmark = pytest.mark.django_db

GRANTED_AT = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
IMPORTED = Evidence(Source.IMPORT, wording="imported with consent")


@pytest.fixture
def smsc(settings):
    server = SmscHarness(receipts=False)
    settings.ENVOI_CONSENT_NOTICES = "1"
    settings.ENVOI_BRAND_NAME = "Envoi Shop"
    settings.ENVOI_KR_OPT_OUT_NUMBER = "080-123-4567"
    settings.ENVOI_SMPP_URL = server.url
    settings.ENVOI_CONSENT_NOTICE_SMS_FROM = "15881234"
    yield server
    server.stop()


def texts(server: SmscHarness) -> dict[str, str]:
    """Each destination's text, its parts joined."""
    joined: dict[str, str] = {}
    for part in server.submitted:
        coding = "utf-16-be" if part.data_coding == 8 else "ascii"
        joined[part.destination] = joined.get(part.destination, "") + part.payload.decode(
            coding)
    return joined


def test_an_sms_consent_is_reconfirmed_by_sms_once(smsc, relay, clock):
    clock.set(GRANTED_AT)
    person = Profile.objects.create(email="minji@example.kr", phone="010-1234-5678",
                                    language="ko", timezone="Asia/Seoul")
    record_consent(person, "sms", IMPORTED)
    clock.set(GRANTED_AT + timedelta(days=366))
    record_consent(person, "email", IMPORTED)  # a year old at the run: not yet

    now = clock.set(GRANTED_AT.replace(year=2026) + timedelta(days=1))
    assert notices.run(now) == {"sent": 1, "failed": 0}
    (text,) = texts(smsc).values()
    assert list(texts(smsc)) == ["821012345678"]
    assert "Envoi Shop" in text and "2024-03-04" in text and "080-123-4567" in text
    assert "http://testserver/p/" in text
    assert relay.messages == []  # the email consent is only a year old
    assert notices.run(clock.advance(hours=1)) == {"sent": 0, "failed": 0}
    assert ConsentNotice.objects.get().consent.channel == "sms"


def test_an_sms_opt_in_is_told_by_sms(smsc, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    person = Profile.objects.create(phone="+81 90-1234-5678", language="ja")
    record_consent(person, "sms", Evidence(Source.CONSOLE, wording="店頭で同意"))
    assert notices.run(clock.now()) == {"sent": 1, "failed": 0}
    assert list(texts(smsc)) == ["819012345678"]
    assert "2026-05-01" in texts(smsc)["819012345678"]


def test_without_an_smsc_sms_notices_wait_and_are_counted_as_due(settings, clock):
    settings.ENVOI_CONSENT_NOTICES = "1"
    settings.ENVOI_SMPP_URL = ""
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    person = Profile.objects.create(phone="010-1234-5678", language="ko")
    record_consent(person, "sms", Evidence(Source.CONSOLE, wording="동의"))
    assert notices.run(clock.advance(days=15)) == {"sent": 0, "failed": 0}
    may = next(m for m in notice_months(clock.now()) if m.month.month == 5)
    assert (may.results_due, may.results_sent, may.overdue) == (1, 0, 1)
