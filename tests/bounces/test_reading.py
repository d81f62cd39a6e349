"""Real shapes of returned mail through the public entry point (``envoi bounces
import``), applied to the sending-log rows of a delivery really sent: each row takes its
own recipient's reading, refusals by policy fail the row without counting against the
address, and the formats that are not RFC 3464 reports are understood (SES JSON
notifications by mail, Outlook.com complaints that are not ARF, Postfix address
verification reports)."""

from __future__ import annotations

import json
import mailbox

import pytest

from envoi.bounces.models import InboundMessage, Quarantine
from envoi.cli import main
from envoi.sending.models import SendingLog
from tests.bounces.mail import postfix_dsn
from tests.support.deliveries import delivery_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(relay, send_all, bounce_domain):
    delivery_in("in_progress")
    send_all()
    return {m.rcpt_to[0]: m for m in relay.messages}


def imported(tmp_path, *messages: bytes) -> None:
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for raw in messages:
        box.add(raw)
    box.close()
    assert main(["bounces", "import", str(tmp_path / "bounces.mbox")]) == 0


def row(address: str) -> tuple[str, str, str]:
    found = SendingLog.objects.get(address=address)
    return found.status, found.failure_type, found.failure_reason


def standing(address: str) -> str:
    record = Quarantine.objects.filter(address=address).first()
    return record.status if record else "valid"


def two_recipient_dsn(return_path: str, original: bytes) -> bytes:
    """A report naming another recipient first (unknown) and ours second (full)."""
    one = postfix_dsn(return_path, original, "ada@example.org", "5.2.2",
                      "552 5.2.2 <ada@example.org>: Mailbox full")
    head, _, rest = one.partition(b"Final-Recipient: rfc822; ada@example.org")
    other = (b"Final-Recipient: rfc822; zed@elsewhere.example\r\nAction: failed\r\n"
             b"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <zed@elsewhere.example>:"
             b" Recipient address rejected: User unknown\r\n\r\n")
    return head + other + b"Final-Recipient: rfc822; ada@example.org" + rest


def test_a_row_takes_its_own_recipients_diagnostic(sent, tmp_path):
    ada = sent["ada@example.org"]
    imported(tmp_path, two_recipient_dsn(ada.mail_from, ada.data))
    assert row("ada@example.org") == ("failed", "soft", "mailbox_full")
    assert standing("ada@example.org") == "erroneous"
    inbound = InboundMessage.objects.get()
    assert (inbound.address, inbound.failure_type) == ("ada@example.org", "soft")


def test_a_refusal_by_policy_fails_the_row_and_never_counts(sent, tmp_path):
    """Status 5.1.1 over a diagnostic that blames the sending IP: the diagnostic wins,
    and a block list says nothing against the address."""
    ada = sent["ada@example.org"]
    imported(tmp_path, postfix_dsn(ada.mail_from, ada.data, "ada@example.org", "5.1.1",
                                   "550 5.7.1 Service unavailable; IP address "
                                   "203.0.113.10 blacklisted"))
    assert row("ada@example.org") == ("failed", "soft", "policy")
    assert standing("ada@example.org") == "valid"
    assert not Quarantine.objects.filter(address="ada@example.org").exists()


def ses_notification(return_path: str, body: dict) -> bytes:
    mail = {"source": return_path, "messageId": "0101019a-0000", "destination":
            [body["address"]]}
    document = {"notificationType": body["type"], "mail": mail, **body["detail"]}
    return (f"From: SES <no-reply@sns.amazonaws.com>\r\nTo: ops@shop.example.com\r\n"
            f"Subject: AWS Notification Message\r\nContent-Type: text/plain\r\n\r\n"
            f"{json.dumps(document)}\r\n\r\n--\r\nIf you wish to stop receiving "
            f"notifications from this topic, please click the link below.\r\n").encode()


def test_amazon_ses_notifications_sent_as_mail(sent, tmp_path):
    ada, bob = sent["ada@example.org"], sent["bob@example.net"]
    imported(tmp_path,
             ses_notification(ada.mail_from, {"type": "Bounce", "address": "ada@example.org",
                              "detail": {"bounce": {"bounceType": "Permanent",
                                         "bounceSubType": "General", "bouncedRecipients": [
                                             {"emailAddress": "ada@example.org",
                                              "status": "5.1.1", "action": "failed",
                                              "diagnosticCode": "smtp; 550 5.1.1 user "
                                                                "unknown"}]}}}),
             ses_notification(bob.mail_from, {"type": "Complaint", "address": "bob@example.net",
                              "detail": {"complaint": {"complainedRecipients": [
                                  {"emailAddress": "bob@example.net"}],
                                  "complaintFeedbackType": "abuse"}}}))
    assert row("ada@example.org") == ("failed", "hard", "user_unknown")
    assert standing("ada@example.org") == "quarantined"
    assert standing("bob@example.net") == "denylisted"
    assert row("bob@example.net") == ("sent", "", "")


def test_an_outlook_com_complaint_that_is_not_arf_denylists(sent, tmp_path):
    bob = sent["bob@example.net"]
    original = bob.data.decode("utf-8", "replace")
    complaint = (f"From: staff@hotmail.com\r\nTo: fbl@shop.example.com\r\n"
                 f"Subject: complaint about message from 203.0.113.10\r\nMIME-Version: 1.0\r\n"
                 f"Content-Type: multipart/mixed; boundary=JMRP\r\n\r\n--JMRP\r\n"
                 f"Content-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
                 f"--JMRP\r\nContent-Type: message/rfc822\r\n\r\n"
                 f"X-HmXmrOriginalRecipient: <bob@example.net>\r\n"
                 f"Return-Path: <{bob.mail_from}>\r\n{original}\r\n--JMRP--\r\n").encode()
    imported(tmp_path, complaint)
    assert InboundMessage.objects.get().kind == "complaint"
    assert standing("bob@example.net") == "denylisted"


def test_an_address_verification_report_is_no_failure(sent, tmp_path):
    ada = sent["ada@example.org"]
    imported(tmp_path, postfix_dsn(ada.mail_from, ada.data, "ada@example.org", "2.1.5",
                                   "250 2.1.5 Ok", action="deliverable"))
    assert row("ada@example.org") == ("sent", "", "")
    assert standing("ada@example.org") == "valid"
    assert InboundMessage.objects.get().failure_type == "ignored"
