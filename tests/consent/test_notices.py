"""Consent notices of Korean advertising: reconfirmation after two years and the result
of each opt-in and opt-out, through a real SMTP server, with the controlled clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Profile
from envoi.consent import notices
from envoi.consent.models import ConsentNotice, NoticeStatus, Source, Unsubscription
from envoi.consent.services import Evidence, has_consent, record_consent, withdraw_consent
from envoi.reporting import jobs
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db

GRANTED_AT = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
IMPORTED = Evidence(Source.IMPORT, wording="imported with consent")
BY_HAND = Evidence(Source.CONSOLE, wording="said yes on the phone")


@pytest.fixture(autouse=True)
def notices_on(settings):
    settings.ENVOI_CONSENT_NOTICES = "1"
    settings.ENVOI_BRAND_NAME = "Envoi Shop"
    settings.ENVOI_BRAND_FOOTER = "Envoi Shop Co.\\n서울특별시 중구 세종대로 1"


def profile(address: str, language: str = "ko") -> Profile:
    return Profile.objects.create(email=address, language=language, timezone="Asia/Seoul")


def body_of(message) -> str:
    return parse(message.data).get_body(("plain",)).get_content()


def test_consent_two_years_and_a_day_old_gets_one_reconfirmation(relay, clock):
    clock.set(GRANTED_AT)
    old = profile("minji@example.kr")
    record_consent(old, "email", IMPORTED)
    clock.set(GRANTED_AT + timedelta(days=366))
    recent = profile("jisoo@example.kr")
    record_consent(recent, "email", IMPORTED)

    now = clock.set(GRANTED_AT.replace(year=2026) + timedelta(days=1))
    assert notices.run(now) == {"sent": 1, "failed": 0}
    (message,) = relay.messages
    assert list(message.rcpt_to) == ["minji@example.kr"]
    mail = parse(message.data)
    assert mail["Content-Language"] == "ko" and "Envoi Shop" in mail["Subject"]
    text = body_of(message)
    assert "2024-03-04" in text  # the date of the consent, in the profile's zone
    assert "서울특별시 중구 세종대로 1" in text  # the brand's legal footer
    assert re.search(r"http://testserver/p/\S+", text)

    assert notices.run(clock.advance(hours=1)) == {"sent": 0, "failed": 0}
    assert len(relay.messages) == 1
    notice = ConsentNotice.objects.get()
    assert (notice.kind, notice.status, notice.language) == ("reconfirm", "sent", "ko")
    assert notice.due_at == GRANTED_AT.replace(year=2026)
    entry = AuditEntry.objects.get(action="consent.notice")
    assert entry.detail["profile"] == old.pk and entry.detail["outcome"] == "sent"


def test_the_next_cycle_and_a_renewed_consent(relay, clock):
    clock.set(GRANTED_AT)
    person = profile("minji@example.kr", "ja")
    record_consent(person, "email", IMPORTED)
    notices.run(clock.set(GRANTED_AT.replace(year=2026) + timedelta(days=1)))
    assert "2024-03-04" in body_of(relay.messages[0])
    assert "配信" in parse(relay.messages[0].data)["Subject"]
    notices.run(clock.set(GRANTED_AT.replace(year=2027)))
    assert len(relay.messages) == 1  # a year later: nothing new
    notices.run(clock.set(GRANTED_AT.replace(year=2028) + timedelta(hours=1)))
    assert len(relay.messages) == 2  # four years: the second cycle
    assert "2024-03-04" in body_of(relay.messages[1])
    assert sorted(ConsentNotice.objects.values_list("period", flat=True)) == [
        "2024-03-04T01:00:00#1", "2024-03-04T01:00:00#2"]


def test_opt_in_and_opt_out_results_are_told_once(relay, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    joined, left, imported = (profile("a@example.kr", "en"), profile("b@example.kr"),
                              profile("c@example.kr"))
    record_consent(joined, "email", BY_HAND)
    record_consent(left, "email", IMPORTED)
    withdraw_consent(left, "email", Evidence(Source.LINK, wording="preference centre"))
    record_consent(imported, "email", IMPORTED)  # told by the system it came from
    clock.advance(days=2)
    record_consent(joined, "email", BY_HAND)  # given again: no change, nothing to tell

    assert notices.run(clock.now()) == {"sent": 2, "failed": 0}
    by_address = {list(m.rcpt_to)[0]: m for m in relay.messages}
    assert set(by_address) == {"a@example.kr", "b@example.kr"}
    assert "2026-05-01" in body_of(by_address["a@example.kr"])
    assert "agreed" in body_of(by_address["a@example.kr"])
    assert "수신" in parse(by_address["b@example.kr"].data)["Subject"]
    kinds = dict(ConsentNotice.objects.values_list("consent__profile__email", "kind"))
    assert kinds == {"a@example.kr": "granted", "b@example.kr": "withdrawn"}
    notices.run(clock.advance(hours=1))
    assert len(relay.messages) == 2


def test_a_refusal_for_one_profile_never_stops_the_others_and_is_tried_again(relay, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    for address in ("refused@example.kr", "fine@example.kr"):
        record_consent(profile(address), "email", BY_HAND)
    relay.script("refused@example.kr", "450 4.2.0 Mailbox busy", times=1)
    assert notices.run(clock.now()) == {"sent": 1, "failed": 1}
    failed = ConsentNotice.objects.get(status=NoticeStatus.FAILED)
    assert failed.reply.startswith("450") and failed.attempts == 1
    assert notices.run(clock.advance(hours=1)) == {"sent": 1, "failed": 0}
    assert sorted(a for m in relay.messages for a in m.rcpt_to) == [
        "fine@example.kr", "refused@example.kr"]
    assert ConsentNotice.objects.get(consent__profile__email="refused@example.kr"
                                     ).attempts == 2


def test_a_notice_given_up_after_its_attempts(relay, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    record_consent(profile("gone@example.kr"), "email", BY_HAND)
    relay.script("gone@example.kr", "550 5.1.1 No such user")
    for _ in range(notices.MAX_ATTEMPTS + 2):
        notices.run(clock.advance(hours=1))
    notice = ConsentNotice.objects.get()
    assert notice.status == "failed" and notice.attempts == notices.MAX_ATTEMPTS
    assert relay.messages == []


def test_a_crash_after_the_claim_never_sends_twice(relay, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    record_consent(profile("a@example.kr"), "email", BY_HAND)
    record_consent(profile("b@example.kr"), "email", BY_HAND)
    first, _second = notices.results_due(clock.now(), ["email"])
    assert notices.claim(first, clock.now()) is not None  # then the worker died
    assert notices.run(clock.advance(hours=1)) == {"sent": 1, "failed": 0}
    assert notices.run(clock.advance(hours=1)) == {"sent": 0, "failed": 0}
    assert [list(m.rcpt_to) for m in relay.messages] == [["b@example.kr"]]
    stuck = ConsentNotice.objects.get(status=NoticeStatus.SENDING)
    assert notices.is_interrupted(stuck, clock.now())


def test_auto_mode_follows_the_korean_rule_set(relay, clock, settings):
    settings.ENVOI_CONSENT_NOTICES = "auto"
    settings.ENVOI_DEFAULT_TYPOLOGY = ""
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    record_consent(profile("a@example.kr"), "email", BY_HAND)
    assert notices.run(clock.now()) == {}
    settings.ENVOI_DEFAULT_TYPOLOGY = "kr_advertising bulk_sender"
    assert notices.run(clock.now()) == {"sent": 1, "failed": 0}
    settings.ENVOI_CONSENT_NOTICES = "0"
    record_consent(profile("b@example.kr"), "email", BY_HAND)
    assert notices.run(clock.now()) == {}


def test_auto_mode_is_on_once_a_delivery_names_the_korean_rule_set(settings):
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    settings.ENVOI_CONSENT_NOTICES = "auto"
    settings.ENVOI_DEFAULT_TYPOLOGY = ""
    services.create(boss(), label="Notice", sender="a@example.com", subject="s",
                    text_body="t", typology=["jp_advertising"])
    assert not notices.enabled()
    services.create(boss(), label="Ad", sender="a@example.com", subject="(광고) s",
                    text_body="t", typology=["kr_advertising", "bulk_sender"])
    assert notices.enabled()


def test_the_job_runs_from_the_registry(relay, clock):
    assert "consent_notices" in jobs.JOBS
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    record_consent(profile("a@example.kr"), "email", BY_HAND)
    assert "consent_notices" in jobs.run_due_jobs(clock.now(), "test-worker")
    assert len(relay.messages) == 1


def test_the_notice_link_opens_the_preference_centre(relay, clock):
    clock.set(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    person = profile("a@example.kr")
    record_consent(person, "email", BY_HAND)
    notices.run(clock.now())
    link = re.search(r"http://testserver(/p/\S+)", body_of(relay.messages[0])).group(1)
    client = Client()
    page = client.get(link)
    assert page.status_code == 200 and page["Content-Language"] == "ko"
    assert client.post(link, {"action": "unsubscribe"}).status_code == 200
    assert not has_consent(person, "email")
    assert Unsubscription.objects.count() == 0  # no message row to count it for
    assert client.get(link[:-3] + "aaa").status_code in (400, 404)


def test_a_consent_given_again_starts_a_new_cycle(relay, clock):
    clock.set(GRANTED_AT)
    person = profile("minji@example.kr")
    record_consent(person, "email", IMPORTED)
    notices.run(clock.set(GRANTED_AT.replace(year=2026) + timedelta(days=1)))
    withdraw_consent(person, "email", BY_HAND)
    notices.run(clock.advance(hours=1))
    clock.set(datetime(2026, 6, 1, 3, 0, tzinfo=UTC))
    record_consent(person, "email", BY_HAND)  # given again: the consent date is now
    notices.run(clock.now())
    assert [n.kind for n in ConsentNotice.objects.order_by("id")] == [
        "reconfirm", "withdrawn", "granted"]
    notices.run(clock.set(GRANTED_AT.replace(year=2028) + timedelta(days=1)))
    assert ConsentNotice.objects.count() == 3  # four years after the first: not yet due
    notices.run(clock.set(datetime(2028, 6, 1, 4, 0, tzinfo=UTC)))
    last = ConsentNotice.objects.latest("id")
    assert (last.kind, last.period) == ("reconfirm", "2026-06-01T03:00:00#1")
    assert "2026-06-01" in body_of(relay.messages[-1])
