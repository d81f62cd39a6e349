"""How each provider's event is read: the remote server's reply through the
qualification table (administrators' rules first), the provider's own verdict only
where no reply is quoted, never hard for what the provider calls temporary or for a
refusal about the sender; and what ties an event to its row."""

from __future__ import annotations

import pytest

from envoi.bounces import events
from envoi.bounces.parsing import notification_reading
from envoi.bounces.providers import ses_notification
from envoi.sending.queue import Outcome, provider_message_id
from tests.bounces.hookcalls import mailgun_failed, postmark_bounce, sendgrid_bounce, ses_bounce


def reading(notification) -> tuple[str, str, str]:
    parsed = notification_reading(notification)
    assert parsed is not None
    return parsed.kind, parsed.failure_type, parsed.reason


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "expected"), [
    (sendgrid_bounce("a@example.org"), ("bounce", "hard", "user_unknown")),
    (sendgrid_bounce("a@example.org", bounce_type="blocked", status="5.7.1",
                     reason="550 5.7.1 Client host blocked using zen.spamhaus.org"),
     ("bounce", "soft", "policy")),
    (sendgrid_bounce("a@example.org", bounce_type="blocked", status="5.1.1",
                     reason="550 5.1.1 user unknown"),
     ("bounce", "soft", "not_defined")),  # blocked: SendGrid says temporary, never hard
    (sendgrid_bounce("a@example.org", status="5.2.2", reason="552 5.2.2 Mailbox full"),
     ("bounce", "soft", "mailbox_full")),
    (sendgrid_bounce("a@example.org", status="5.7.1",
                     reason="550 5.7.1 Unauthenticated email from example.com is not "
                            "accepted due to domain's DMARC policy"),
     ("bounce", "soft", "policy")),
    ({"email": "a@example.org", "event": "dropped", "reason": "Bounced Address",
      "status": "5.0.0", "sg_message_id": "x.filter0"}, ("bounce", "hard", "user_unknown")),
    ({"email": "a@example.org", "event": "dropped", "reason": "Unsubscribed Address",
      "status": "5.0.0"}, ("bounce", "soft", "policy")),
    ({"email": "a@example.org", "event": "spamreport"}, ("complaint", "hard", "complaint")),
    ({"email": "a@example.org", "event": "deferred", "response": "400 try again later",
      "attempt": "5"}, ("delay", "ignored", "delayed")),
])
def test_sendgrid_events(event, expected):
    notification = events.sendgrid_event(event)
    assert notification is not None
    assert reading(notification) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "expected"), [
    (mailgun_failed("a@example.org"), ("bounce", "hard", "user_unknown")),
    (mailgun_failed("a@example.org", code=550,
                    message="5.7.1 [1.2.3.4] Our system has detected an unusual rate of "
                            "unsolicited mail originating from your IP address"),
     ("bounce", "soft", "policy")),
    (mailgun_failed("a@example.org", severity="temporary", code=452,
                    message="4.2.2 The email account that you tried to reach is over quota"),
     ("delay", "ignored", "delayed")),
    ({**mailgun_failed("a@example.org", code=605, message=""), "reason": "suppress-bounce",
      "delivery-status": {"code": 605, "description": "Not delivering to previously "
                                                      "bounced address", "message": ""}},
     ("bounce", "hard", "user_unknown")),
    ({"event": "complained", "recipient": "a@example.org"},
     ("complaint", "hard", "complaint")),
])
def test_mailgun_events(event, expected):
    notification = events.mailgun_event(event)
    assert notification is not None
    assert reading(notification) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "expected"), [
    (postmark_bounce("a@example.org"), ("bounce", "hard", "user_unknown")),
    (postmark_bounce("a@example.org", details=""), ("bounce", "hard", "user_unknown")),
    # Postmark's "HardBounce" over a reply that blames the sender: the reply decides.
    (postmark_bounce("a@example.org",
                     details="smtp;550 5.7.1 Service unavailable, Client host [1.2.3.4] "
                             "blocked using Spamhaus"), ("bounce", "soft", "policy")),
    (postmark_bounce("a@example.org", kind="SoftBounce", type_code=4096,
                     details="smtp;552 5.2.2 mailbox full"),
     ("bounce", "soft", "mailbox_full")),
    (postmark_bounce("a@example.org", kind="DnsError", type_code=256, details=""),
     ("bounce", "soft", "unreachable")),
    ({"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "a@example.org"},
     ("complaint", "hard", "complaint")),
])
def test_postmark_events(event, expected):
    notification = events.postmark_event(event)
    assert notification is not None
    assert reading(notification) == expected


@pytest.mark.parametrize(("reader", "event"), [
    (events.sendgrid_event, {"event": "open", "email": "a@example.org"}),
    (events.sendgrid_event, {"event": "processed", "email": "a@example.org"}),
    (events.mailgun_event, {"event": "opened", "recipient": "a@example.org"}),
    (events.mailgun_event, {"event": "accepted", "recipient": "a@example.org"}),
    (events.postmark_event, {"RecordType": "Open", "Recipient": "a@example.org"}),
    (events.postmark_event, {"RecordType": "Bounce", "Type": "AutoResponder",
                             "Email": "a@example.org"}),
    (events.postmark_event, [1, 2]),
])
def test_events_not_about_delivery_are_not_read(reader, event):
    assert reader(event) is None


def test_what_ties_each_event_to_its_row():
    ours = "<12.345.envoi@bounces.shop.example.com>"
    sendgrid = events.sendgrid_event(sendgrid_bounce(
        "a@example.org", smtp_id=ours,
        sg_message_id="W0JRHuTZQ5i1EgM0Lb7QCQ.filterdrecv-5645d9c87f-2n9qm-1-5F4F1F9E-1A.0"))
    assert sendgrid is not None
    assert (sendgrid.header_ids, sendgrid.message_id) == ([ours], "W0JRHuTZQ5i1EgM0Lb7QCQ")
    mailgun = events.mailgun_event(mailgun_failed("a@example.org", message_id=ours,
                                                  sender="b-x@bounces.shop.example.com"))
    assert mailgun is not None
    assert (mailgun.header_ids, mailgun.return_paths) == (
        [ours], ["b-x@bounces.shop.example.com"])
    content = f"Return-Path: <b-x@x>\r\nMessage-ID: {ours}\r\nSubject: Spring\r\n\r\nHi"
    postmark = events.postmark_event({**postmark_bounce("a@example.org"), "Content": content})
    assert postmark is not None
    assert (postmark.header_ids, postmark.message_id) == (
        [ours], "883953f4-6105-42a2-a16a-77a8eac79483")
    ses = ses_notification(ses_bounce("a@example.org", source="b-y@x", message_id=ours,
                                      ses_id="0102018d-ses"))
    assert ses is not None
    assert (ses.header_ids, ses.return_paths, ses.message_id) == (
        [ours], ["b-y@x"], "0102018d-ses")


@pytest.mark.parametrize(("reply", "expected"), [
    ("250 Ok 0100018d5e2b9a41-7c4f1d2e-1111-4c1a-9a51-2f6b8a3c9d10-000000",
     "0100018d5e2b9a41-7c4f1d2e-1111-4c1a-9a51-2f6b8a3c9d10-000000"),  # Amazon SES
    ("250 Ok <0100018d5e2b9a41-000000>", "0100018d5e2b9a41-000000"),
    ("250 2.0.0 Ok: queued as 4Fq2Zk1abcD", "4Fq2Zk1abcD"),  # Postfix
    ("250 Ok: queued as W0JRHuTZQ5i1EgM0Lb7QCQ", "W0JRHuTZQ5i1EgM0Lb7QCQ"),  # SendGrid
    ("250 2.0.0 Ok", None),
    ("250 Great success", None),  # Mailgun names none (its events carry our Message-ID)
    ("250 2.0.0 OK: queued", None),
])
def test_the_relays_id_is_read_from_its_250_reply(reply, expected):
    assert provider_message_id(Outcome(1, "sent", smtp_reply=reply)) == expected


def test_no_relay_id_is_read_from_a_refusal():
    assert provider_message_id(Outcome(1, "failed", "hard", "user_unknown",
                                       "550 5.1.1 queued as nothing")) is None


@pytest.mark.django_db
def test_administrators_rules_come_first_for_webhook_events_too():
    from envoi.bounces import services
    from envoi.bounces.qualification import admin_rules
    from tests.support.deliveries import boss

    event = sendgrid_bounce("a@example.org", status="5.0.0",
                            reason="550 Mailbox unavailable: recipient is on vacation "
                                   "for good")
    before = reading(events.sendgrid_event(event))
    services.add_rule(boss(), failure_type="hard", reason="account_disabled",
                      pattern="on vacation for good")
    admin_rules.invalidate()
    assert reading(events.sendgrid_event(event)) == ("bounce", "hard", "account_disabled")
    assert before != ("bounce", "hard", "account_disabled")
