"""The whole sending workflow through the API, into a real SMTP server.

Runs on SQLite and on PostgreSQL (the suite's two passes).
"""

from __future__ import annotations

import re

import pytest

from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from tests.support.api import Api
from tests.support.scenario import (
    EXCLUDED,
    RECIPIENTS,
    delivery_payload,
    parse,
    profile_rows,
    quarantine_bounced,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return {
        "preparer": Api("paula", "prepare_deliveries", "import"),
        "approver": Api("andre", "approve_deliveries"),
        "starter": Api("stella", "start_deliveries"),
    }


def test_prepare_approve_confirm_send(team, relay, send_all):
    preparer, approver, starter = team["preparer"], team["approver"], team["starter"]
    created = preparer.ok(preparer.post("/profiles", profile_rows()))
    assert created["imported"] == len(profile_rows()) and created["error_count"] == 0
    quarantine_bounced()
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)

    delivery = preparer.ok(preparer.post("/deliveries", delivery_payload(audience["id"])), 201)
    assert delivery["status"] == "editing"
    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    assert prepared["status"] == "pending_approval", prepared["preparation"]
    counts = prepared["counts"]
    assert counts["targeted"] == len(RECIPIENTS) + len(EXCLUDED)
    assert counts["to_deliver"] == len(RECIPIENTS)
    assert counts["exclusions"] == {reason: 1 for _, reason in EXCLUDED.values()}

    exclusions = preparer.ok(preparer.get(f"/deliveries/{delivery['id']}/logs/exclusions"))
    assert {row["address"]: row["reason"] for row in exclusions["results"]} == {
        address: reason for address, (_, reason) in EXCLUDED.items()}

    proof = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/proof"))
    assert proof["number"] == 1 and [r["address"] for r in proof["recipients"]] == [
        "proof@example.com"]
    assert parse(relay.messages[-1].data)["Subject"].startswith("[Proof 1] Proof님")
    relay.clear()

    refused = preparer.post(f"/deliveries/{delivery['id']}/confirm")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Your permissions do not allow you to confirm a delivery."}

    approved = approver.ok(approver.post(f"/deliveries/{delivery['id']}/approve"))
    assert approved["approval"]["to_deliver"] == len(RECIPIENTS)
    confirmed = starter.ok(starter.post(f"/deliveries/{delivery['id']}/confirm"))
    assert confirmed["status"] == "in_progress"

    send_all()

    final = starter.ok(starter.get(f"/deliveries/{delivery['id']}"))
    assert final["status"] == "finished"
    assert final["counts"] | {"exclusions": None} == {
        "targeted": 9, "to_deliver": 4, "sent": 4, "failed": 0, "pending": 0, "ignored": 0,
        "exclusions": None}
    listed = starter.ok(starter.get("/deliveries", status="finished", search="spr"))
    assert [d["id"] for d in listed["results"]] == [delivery["id"]]
    assert starter.ok(starter.get("/deliveries", status="editing"))["count"] == 0
    by_recipient = {}
    for message in relay.messages:
        by_recipient.setdefault(message.rcpt_to[0], []).append(message)
    assert sorted(by_recipient) == sorted(RECIPIENTS), "exactly the to-deliver profiles"
    assert all(len(messages) == 1 for messages in by_recipient.values())
    for address, (first_name, _) in RECIPIENTS.items():
        check_message(by_recipient[address][0], address, first_name)


def check_message(received, address: str, first_name: str) -> None:
    message = parse(received.data)
    assert message["Subject"] == f"{first_name}님, 봄맞이 회원 전용 특별 할인 쿠폰이 도착했어요!"
    assert message["To"].addresses[0].addr_spec == address
    assert message["From"].addresses[0].display_name == "Envoi Shop"
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message["Message-ID"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe, message["List-Unsubscribe"]
    html = message.get_body(("html",)).get_content()
    assert f"안녕하세요 {first_name} Kim님" in html
    assert ("(gold)" if first_name == "민지" else "(basic)") in html
    assert unsubscribe.group(1) in html
    assert f"Hello {first_name}" in message.get_body(("plain",)).get_content()
    row = SendingLog.objects.get(pk=tokens.row_of_return_path(received.mail_from))
    assert row.address == address and row.status == "sent"
    assert row.message_id == message["Message-ID"]
