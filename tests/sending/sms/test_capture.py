"""The embedded shape's capture SMSC: an SMS delivery sent to it lands in the console's
outbox with its parts joined, its receipts deliver the rows, and the console's STOP
opts the profile out."""

from __future__ import annotations

import time

import pytest

from envoi.audiences.models import Profile
from envoi.bounces.models import InboundSms
from envoi.sending.channels.sms.capture import CaptureSmsc
from envoi.sending.models import OutboxSms, SendingLog
from envoi.sending.worker import Worker
from tests.support.api import Api
from tests.support.smtpd import free_port
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = ("{{ first_name }}님, 봄 세일이 시작되었습니다! 전 품목 30% 할인, 온라인과 매장 모두 "
        "일요일까지 진행합니다. 친구와 함께 오시면 추가 10% 할인. 수신거부: STOP 회신")


def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_captured_sms_receipts_and_stop_from_the_console():
    smsc = CaptureSmsc("127.0.0.1", free_port())
    smsc.start()
    try:
        minji = Profile.objects.create(phone="010-1234-5678", first_name="민지")
        boss = Api("boss", "administration", "prepare_deliveries", "approve_deliveries",
                   "start_deliveries")
        audience = boss.ok(boss.post("/audiences", {"name": "All", "filter": ""}), 201)
        delivery = boss.ok(boss.post("/deliveries", {
            "label": "SMS", "channel": "sms", "sender": "1588", "text_body": TEXT,
            "audience_id": audience["id"], "approval_required": False}), 201)
        boss.ok(boss.post(f"/deliveries/{delivery['id']}/prepare"))
        boss.ok(boss.post(f"/deliveries/{delivery['id']}/confirm"))
        Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)
        assert SendingLog.objects.get().status == "delivered"  # by the receipts
        worker = Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url)  # stays bound
        try:
            until(lambda: worker.turn() is not None and len(smsc._sessions) == 1)
            captured = OutboxSms.objects.get()
            assert captured.text.startswith("민지님, 봄 세일") and captured.parts == 2
            assert (captured.destination, captured.encoding) == ("+821012345678", "ucs2")

            console = signed_in("viewer", "prepare_deliveries")
            page = console.get("/outbox/").content.decode()
            assert "민지님, 봄 세일" in page and "Reply STOP" in page
            response = console.post("/outbox/sms/stop/", {"number": "+821012345678"})
            assert response.status_code == 302
            until(lambda: worker.turn() is not None and InboundSms.objects.exists())
        finally:
            worker.close()
        minji.refresh_from_db()
        assert minji.sms_opt_out
    finally:
        smsc.stop()
