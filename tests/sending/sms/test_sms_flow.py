"""The SMS workflow end to end through the API, into the SMPP server of the smpp34
library: prepare (exclusions by reason, parts), approve, confirm, send, receipts,
and a STOP reply. Runs on SQLite and on PostgreSQL (the suite's two passes)."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from envoi.bounces.models import InboundSms, Quarantine, QuarantineStatus
from envoi.sending.channels.sms import segments
from envoi.sending.models import SendingLog, SmsPart
from envoi.sending.worker import Worker
from tests.support.api import Api
from tests.support.smsc import SmscHarness

pytestmark = pytest.mark.django_db

KOREAN = ("{{ first_name }}님, 봄 세일이 시작되었습니다! 전 품목 30% 할인, 온라인과 매장 모두 "
          "일요일까지 진행합니다. 친구와 함께 오시면 추가 10% 할인. 수신거부: STOP 회신")
LONG_ENGLISH = ("Hi {{ first_name }}, our spring sale starts today with 30% off everything "
                "in store and online. Bring a friend and get another 10% off at the till. "
                "Offer ends Sunday [terms apply]. Reply STOP to opt out.")


@pytest.fixture
def team():
    return {"preparer": Api("paula", "prepare_deliveries", "import"),
            "approver": Api("andre", "approve_deliveries"),
            "starter": Api("stella", "start_deliveries")}


def profiles() -> dict[str, Profile]:
    made = {
        "minji": Profile.objects.create(phone="010-1234-5678", first_name="민지",
                                        language="ko"),
        "yuki": Profile.objects.create(phone="090-1234-5678", first_name="ゆき", language="ja",
                                       attributes={"country": "JP"}),
        "emma": Profile.objects.create(phone="+44 7911 123456", first_name="Emma",
                                       language="en"),
        "no_phone": Profile.objects.create(email="a@example.com", first_name="None"),
        "invalid": Profile.objects.create(phone="12345", first_name="Bad"),
        "duplicate": Profile.objects.create(phone="+82 10 1234 5678", first_name="Twin"),
        "opted_out": Profile.objects.create(phone="010-2222-3333", first_name="Out",
                                            sms_opt_out=True),
        "denylisted": Profile.objects.create(phone="010-4444-5555", first_name="Deny"),
    }
    Quarantine.objects.create(channel="sms", address="+821044445555",
                              status=QuarantineStatus.DENYLISTED, reason="manual")
    return made


def run_worker(smsc: SmscHarness, settings) -> None:
    worker = Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url)
    worker.run(until_idle=True)


def create_sms(preparer: Api, audience_id: int, text: str, **extra) -> dict:
    return preparer.ok(preparer.post("/deliveries", {
        "label": "Spring SMS", "channel": "sms", "sender": "Envoi", "text_body": text,
        "audience_id": audience_id, **extra}), 201)


def test_sms_delivery_end_to_end(team, smsc, settings):
    preparer, approver, starter = team["preparer"], team["approver"], team["starter"]
    people = profiles()
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    delivery = create_sms(preparer, audience["id"], "{% if language == 'ko' %}" + KOREAN
                          + "{% elsif language == 'ja' %}{{ first_name }}さん、春のセール開始!"
                          " 配信停止はSTOPと返信{% else %}" + LONG_ENGLISH + "{% endif %}")
    assert delivery["channel"] == "sms" and delivery["max_parts"] == 4

    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    assert prepared["status"] == "pending_approval", prepared["preparation"]
    assert prepared["counts"]["to_deliver"] == 3
    assert prepared["counts"]["exclusions"] == {
        "phone_missing": 1, "phone_invalid": 1, "duplicate": 1, "sms_opt_out": 1,
        "denylisted": 1}
    assert prepared["parts"] == {"min": 1, "max": 2, "total": 5}  # ko 2, ja 1, en 2
    rows = {row.address: row for row in SendingLog.objects.filter(delivery_id=delivery["id"])}
    assert set(rows) == {"+821012345678", "+819012345678", "+447911123456"}
    assert rows["+821012345678"].profile_id == people["minji"].pk  # the first of the twins

    approver.ok(approver.post(f"/deliveries/{delivery['id']}/approve"))
    assert starter.ok(starter.post(f"/deliveries/{delivery['id']}/confirm"))[
        "status"] == "in_progress"
    run_worker(smsc, settings)

    by_destination: dict[str, list] = {}
    for submitted in smsc.submitted:
        by_destination.setdefault(submitted.destination, []).append(submitted)
    for found in by_destination.values():  # a handset puts the parts in UDH order
        found.sort(key=lambda submitted: submitted.udh[5:6])
    korean = by_destination["821012345678"]
    assert [s.data_coding for s in korean] == [8, 8]  # UCS-2, in two parts with UDH
    assert [s.esm_class & 0x40 for s in korean] == [0x40, 0x40]
    reference = korean[0].udh[3]
    assert [s.udh for s in korean] == [bytes((5, 0, 3, reference, 2, 1)),
                                       bytes((5, 0, 3, reference, 2, 2))]
    text = "".join(s.payload.decode("utf-16-be") for s in korean)
    assert text == KOREAN.replace("{{ first_name }}", "민지")
    japanese = by_destination["819012345678"]
    assert len(japanese) == 1 and japanese[0].data_coding == 8 and not japanese[0].udh
    english = by_destination["447911123456"]
    assert [s.data_coding for s in english] == [0, 0]  # GSM-7, the brackets escaped
    joined = b"".join(s.payload for s in english)
    assert segments.decode(joined, 0).startswith("Hi Emma, our spring sale")
    assert b"\x1b\x3cterms apply\x1b\x3e" in joined
    assert all(s.source == "Envoi" and s.source_ton == 5 and s.registered_delivery == 1
               for s in smsc.submitted)

    parts = SmsPart.objects.filter(row_id=rows["+821012345678"].pk).order_by("sequence")
    assert [p.message_id for p in parts] == [s.message_id for s in korean]
    assert {p.stat for p in parts} == {"DELIVRD"}
    final = starter.ok(starter.get(f"/deliveries/{delivery['id']}"))
    assert final["status"] == "finished"
    assert SendingLog.objects.filter(delivery_id=delivery["id"],
                                     status="delivered").count() == 3
    kpis = starter.ok(starter.get(f"/deliveries/{delivery['id']}/kpis"))
    assert kpis["channel"] == "sms"
    assert kpis["sms"] == {"to_deliver": 3, "sent": 3, "delivered": 3, "delivered_rate": 1.0,
                           "errors": 0, "error_rate": 0.0, "stop_replies": 0,
                           "parts_sent": 5, "clicks": None, "click_rate": None}

    # A STOP reply opts Min-ji out; the next preparation excludes her.
    worker = Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url)
    try:
        smsc.wait_for(0)
        _bound(smsc, worker)
        smsc.reply("821012345678", "수신거부")
        _until(lambda: worker.turn() is not None and InboundSms.objects.exists())
    finally:
        worker.close()
    people["minji"].refresh_from_db()
    assert people["minji"].sms_opt_out
    reply = InboundSms.objects.get()
    assert reply.stop and reply.profile_id == people["minji"].pk
    admin = Api("ada", "administration")
    listed = admin.ok(admin.get("/sms-inbound", kind="reply"))
    assert [(r["source"], r["text"], r["stop"], r["outcome"]) for r in listed["results"]] == [
        ("+821012345678", "수신거부", True, "matched")]
    history = admin.ok(admin.get(f"/profiles/{people['minji'].pk}/history"))
    assert [(r["text"], r["stop"]) for r in history["sms_replies"]] == [("수신거부", True)]
    again = create_sms(preparer, audience["id"], "Hi {{ first_name }}")
    prepared = preparer.ok(preparer.post(f"/deliveries/{again['id']}/prepare"))
    assert prepared["counts"]["exclusions"]["sms_opt_out"] == 2


def test_failed_receipts_and_too_many_parts(team, smsc, settings):
    preparer, approver, starter = team["preparer"], team["approver"], team["starter"]
    profiles()
    smsc.stat_for["447911123456"] = "UNDELIV"
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    long = create_sms(preparer, audience["id"], "가" * 300, max_parts=2)
    refused = preparer.ok(preparer.post(f"/deliveries/{long['id']}/prepare"))
    assert refused["status"] == "preparation_failed"
    assert [m["code"] for m in refused["preparation"] if m["level"] == "error"] == [
        "sms.too_many_parts"]

    delivery = create_sms(preparer, audience["id"], "Sale today. Reply STOP to opt out")
    preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    approver.ok(approver.post(f"/deliveries/{delivery['id']}/approve"))
    starter.ok(starter.post(f"/deliveries/{delivery['id']}/confirm"))
    run_worker(smsc, settings)
    statuses = dict(SendingLog.objects.filter(delivery_id=delivery["id"])
                    .values_list("address", "status"))
    assert statuses == {"+821012345678": "delivered", "+819012345678": "delivered",
                        "+447911123456": "failed"}
    failed = SendingLog.objects.get(delivery_id=delivery["id"], address="+447911123456")
    assert (failed.failure_type, failed.failure_reason) == ("soft", "unreachable")

    # A receipt for nothing Envoi sent is kept and listed.
    from envoi.bounces import sms as inbound_sms
    from envoi.sending.channels.sms.transport import Inbound

    stray = Inbound("smsc", True, "821099998888", "Envoi", "id:zz9 stat:DELIVRD", "zz9",
                    "DELIVRD", received_at=0.0)
    assert inbound_sms.take_in([stray], failed.updated_at) == [stray]
    inbound_sms.keep_unmatched([stray], failed.updated_at)
    admin = Api("ada", "administration")
    listed = admin.ok(admin.get("/sms-inbound", outcome="unmatched"))
    assert [(r["kind"], r["message_id"]) for r in listed["results"]] == [("receipt", "zz9")]


def _bound(smsc: SmscHarness, worker: Worker) -> None:
    _until(lambda: smsc._sessions and worker.channels["sms"].ready())


def _until(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
