"""Permanent SMS failures feed the quarantine as email's hard bounces do: an SMSC that
refuses the destination (ESME_RINVDSTADR) or a receipt whose error says the number
cannot receive (UNDELIV err:001) quarantines the number, and the next preparation
excludes it with the reason quarantined; a soft failure (the handset off) does not.
Against the SMPP server of the smpp34 library, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from envoi.bounces.models import Quarantine, QuarantineEvent, QuarantineStatus
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.api import Api
from tests.support.smsc import SmscHarness

pytestmark = pytest.mark.django_db

ESME_RINVDSTADR = 0x0B


@pytest.fixture
def smsc():
    server = SmscHarness(refuse_for={"821011110000": ESME_RINVDSTADR},
                         stat_for={"821022220000": "UNDELIV", "821033330000": "UNDELIV"},
                         err_for={"821022220000": "001", "821033330000": "027"})
    yield server
    server.stop()


def _send(preparer: Api, audience_id: int, smsc: SmscHarness, label: str) -> dict:
    delivery = preparer.ok(preparer.post("/deliveries", {
        "label": label, "channel": "sms", "sender": "Envoi", "audience_id": audience_id,
        "text_body": "Hi {{ first_name }}, the sale starts today. Reply STOP to opt out.",
        "approval_required": False}), 201)
    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    assert prepared["status"] == "ready", prepared["preparation"]
    preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/confirm"))
    Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)
    return prepared


def test_permanent_failures_quarantine_the_number_and_the_next_preparation_excludes_it(
        smsc):
    preparer = Api("stella", "start_deliveries")
    for name, phone in [("refused", "010-1111-0000"), ("unknown", "010-2222-0000"),
                        ("absent", "010-3333-0000"), ("fine", "010-4444-0000")]:
        Profile.objects.create(phone=phone, first_name=name)
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    first = _send(preparer, audience["id"], smsc, "First")

    rows = {row.address: (row.status, row.failure_type, row.failure_reason)
            for row in SendingLog.objects.filter(delivery_id=first["id"])}
    assert rows == {"+821011110000": ("failed", "hard", "user_unknown"),
                    "+821022220000": ("failed", "hard", "user_unknown"),
                    "+821033330000": ("failed", "soft", "unreachable"),
                    "+821044440000": ("delivered", "", "")}
    quarantined = {q.address: q.status for q in Quarantine.objects.filter(channel="sms")}
    assert quarantined == {"+821011110000": QuarantineStatus.QUARANTINED,
                           "+821022220000": QuarantineStatus.QUARANTINED}
    assert sorted(QuarantineEvent.objects.filter(channel="sms").values_list(
        "address", "source")) == [("+821011110000", "sending"), ("+821022220000", "bounce")]

    second = _send(preparer, audience["id"], smsc, "Second")
    assert second["counts"]["to_deliver"] == 2
    assert second["counts"]["exclusions"] == {"quarantined": 2}

    # An administrator releases a number as an address: the next preparation takes it.
    admin = Api("ada", "administration")
    shown = admin.ok(admin.get("/quarantine/+821022220000"))
    assert (shown["channel"], shown["status"]) == ("sms", "quarantined")
    assert [event["source"] for event in shown["history"]] == ["bounce"]
    released = admin.ok(admin.post("/quarantine/+821022220000/release", {"note": "ported"}))
    assert released["status"] == "valid"
    third = _send(preparer, audience["id"], smsc, "Third")
    assert third["counts"]["exclusions"] == {"quarantined": 1}
