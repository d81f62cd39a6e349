"""Language variants of an SMS delivery: each profile receives the text of its
language's variant (the default's when its variant has no text, or when it has no
variant), and preparation counts the parts per variant. Through the API into the SMPP
server of the smpp34 library, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from envoi.sending.channels.sms import segments
from envoi.sending.worker import Worker
from tests.support.api import Api

pytestmark = pytest.mark.django_db

ENGLISH = "Hi {{ first_name }}, the spring sale starts today. Reply STOP to opt out."
KOREAN = ("{{ first_name }}님, 봄 세일이 오늘 시작됩니다. 전 품목 30% 할인, 온라인과 매장 모두 "
          "일요일까지 진행합니다. 수신거부: STOP 회신")
JAPANESE = "{{ first_name }}さん、春のセールが今日から始まります。配信停止はSTOPと返信"


def test_each_profile_gets_its_variants_text_and_parts_are_counted_per_variant(smsc):
    preparer = Api("paula", "prepare_deliveries")
    Profile.objects.create(phone="010-1234-5678", first_name="민지", language="ko")
    Profile.objects.create(phone="090-1234-5678", first_name="ゆき", language="ja",
                           attributes={"country": "JP"})
    Profile.objects.create(phone="+44 7911 123456", first_name="Emma", language="en")
    Profile.objects.create(phone="010-9999-8888", first_name="Chulsoo", language="ko-KR")
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    delivery = preparer.ok(preparer.post("/deliveries", {
        "label": "Spring SMS", "channel": "sms", "sender": "Envoi", "text_body": ENGLISH,
        "audience_id": audience["id"], "approval_required": False,
        "variants": [{"language": "ko", "text_body": KOREAN},
                     {"language": "ja", "text_body": JAPANESE}]}), 201)

    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    assert prepared["status"] == "ready", prepared["preparation"]
    # ko: 2 parts each (UCS-2, 67 a part), ja: 1 (UCS-2, under 70), en: 1 (GSM-7).
    assert prepared["parts"] == {"min": 1, "max": 2, "total": 6, "by_variant": {
        "": {"min": 1, "max": 1, "total": 1}, "ja": {"min": 1, "max": 1, "total": 1},
        "ko": {"min": 2, "max": 2, "total": 4}}}

    starter = Api("stella", "start_deliveries")
    starter.ok(starter.post(f"/deliveries/{delivery['id']}/confirm"))
    Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)

    texts: dict[str, str] = {}
    for submitted in sorted(smsc.submitted, key=lambda s: s.udh[5:6]):  # parts in order
        texts[submitted.destination] = texts.get(submitted.destination, "") + (
            segments.decode(submitted.payload, submitted.data_coding))
    assert texts == {
        "821012345678": KOREAN.replace("{{ first_name }}", "민지"),
        "821099998888": KOREAN.replace("{{ first_name }}", "Chulsoo"),  # ko-KR: Korean
        "819012345678": JAPANESE.replace("{{ first_name }}", "ゆき"),
        "447911123456": ENGLISH.replace("{{ first_name }}", "Emma"),
    }


def test_a_variant_whose_text_does_not_parse_fails_preparation_on_its_field():
    preparer = Api("paula", "prepare_deliveries")
    Profile.objects.create(phone="010-1234-5678", first_name="민지", language="ko")
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    delivery = preparer.ok(preparer.post("/deliveries", {
        "label": "Spring SMS", "channel": "sms", "sender": "Envoi", "text_body": ENGLISH,
        "audience_id": audience["id"],
        "variants": [{"language": "ko", "text_body": "{{ first_name 님 STOP"}]}), 201)
    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    assert prepared["status"] == "preparation_failed"
    assert [m["message"].split(":")[0] for m in prepared["preparation"]
            if m["code"] == "personalization"] == ["variants.ko.text_body"]
