"""The provider webhook endpoints over HTTP: SES (through SNS), SendGrid, Mailgun and
Postmark. Messages are really sent (a worker, a real SMTP server); each provider's
call, shaped as the provider documents it and signed with keys made here, then fails
the row, moves the KPIs and quarantines or denylists the address like a bounce by
mail. Forged, stale, replayed or unsigned calls are refused (401/403, JSON), audited,
and leave nothing behind. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from envoi.accounts.models import AuditEntry
from envoi.bounces import views
from envoi.bounces.models import InboundMessage, Quarantine
from envoi.reporting.kpis import refresh as refresh_kpis
from envoi.reporting.models import DeliveryKpis
from envoi.sending.models import SendingLog
from tests.bounces.hookcalls import (
    MAILGUN_KEY,
    POSTMARK_CREDENTIALS,
    SNS_CERT_URL,
    SNS_TOPIC,
    Hooks,
    Keys,
    mailgun_failed,
    postmark_bounce,
    sendgrid_bounce,
    ses_bounce,
    sns_certificate,
    sns_notification,
)
from tests.support.deliveries import delivery_in

pytestmark = pytest.mark.django_db

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")
SES_ID = "0102018d5e2b9a41-7c4f1d2e-1111-4c1a-9a51-2f6b8a3c9d10-000000"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def fetched(keys, monkeypatch) -> list[str]:
    urls: list[str] = []
    pem = sns_certificate(keys.sns, dt.datetime.now(dt.UTC))

    def fetch(url: str) -> bytes:
        urls.append(url)
        return pem

    monkeypatch.setattr(views, "sns_certificates", fetch)
    return urls


@pytest.fixture
def configured(settings, keys, fetched):
    settings.ENVOI_SNS_TOPICS = SNS_TOPIC
    settings.ENVOI_SENDGRID_PUBLIC_KEY = keys.sendgrid_public
    settings.ENVOI_MAILGUN_SIGNING_KEY = MAILGUN_KEY
    settings.ENVOI_POSTMARK_CREDENTIALS = POSTMARK_CREDENTIALS
    return settings


@pytest.fixture
def hooks(keys, configured) -> Hooks:
    return Hooks(keys, dt.datetime.now(dt.UTC))


@pytest.fixture
def sent(relay, send_all, bounce_domain):
    """A delivery really sent; the relay answered Ada's DATA with an SES-style id and
    Bob's with a Postfix/Postmark-style "queued as"."""
    relay.script("ada@example.org", f"250 Ok {SES_ID}", at="data")
    relay.script("bob@example.net", f"250 2.0.0 Ok: queued as {POSTMARK_ID}", at="data")
    delivery = delivery_in("in_progress")
    send_all()
    rows = {row.address: row for row in SendingLog.objects.filter(delivery=delivery)}
    assert {rows["ada@example.org"].status, rows["bob@example.net"].status} == {"sent"}
    return delivery, rows


def kpis(delivery) -> dict:
    return DeliveryKpis.objects.get(delivery=delivery).values


def bounce_call(hooks: Hooks, provider: str, row: SendingLog, **kind):
    """A hard bounce for ``row`` as ``provider`` posts it, matched the way that
    provider allows: SES by the return path it reports, SendGrid and Mailgun by our
    Message-ID, Postmark by its own id (from the relay's 250 reply)."""
    if provider == "ses":
        return hooks.sns(sns_notification(ses_bounce(row.address, source=return_path(row),
                                                      ses_id="other")))
    if provider == "sendgrid":
        return hooks.sendgrid([sendgrid_bounce(row.address, smtp_id=row.message_id)])
    if provider == "mailgun":
        return hooks.mailgun(mailgun_failed(row.address, message_id=row.message_id))
    return hooks.postmark(postmark_bounce(row.address, message_id=row.provider_message_id))


def return_path(row: SendingLog) -> str:
    from envoi.tracking import tokens

    return tokens.return_path(row.pk)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signed_bounce_fails_the_row_moves_the_kpis_and_quarantines(hooks, sent,
                                                                      provider):
    delivery, rows = sent
    row = rows["bob@example.net"] if provider == "postmark" else rows["ada@example.org"]
    before = refresh_kpis(delivery.pk)
    assert before["failed"] == 0 and before["delivered"] == before["sent"] > 1
    response = bounce_call(hooks, provider, row)
    assert response.status_code == 200, response.content
    assert response.json()["received"] == 1
    found = SendingLog.objects.get(pk=row.pk)
    assert (found.status, found.failure_type, found.failure_reason) == (
        "failed", "hard", "user_unknown")
    assert found.sent_at == row.sent_at
    assert Quarantine.objects.get(address=row.address).status == "quarantined"
    inbound = InboundMessage.objects.get()
    assert (inbound.source, inbound.outcome, inbound.row_id) == (
        "sns" if provider == "ses" else provider, "matched", row.pk)
    after = kpis(delivery)  # refreshed by the webhook itself
    assert (after["sent"], after["delivered"], after["failed"]) == (
        before["sent"], before["delivered"] - 1, 1)
    assert after["failures_by_type"] == {"hard": 1}
    assert after["failures_by_reason"] == [
        {"type": "hard", "reason": "user_unknown", "count": 1}]
    # The same call again changes nothing more (the row is already failed).
    assert bounce_call(hooks, provider, row).status_code in (200, 403)
    assert kpis(delivery)["failed"] == after["failed"]


def test_the_relays_id_is_kept_at_sending(sent):
    _, rows = sent
    assert rows["ada@example.org"].provider_message_id == SES_ID
    assert rows["bob@example.net"].provider_message_id == POSTMARK_ID
    # The test relay's plain "250 2.0.0 OK: queued" names no id.
    others = [r for a, r in rows.items() if a not in ("ada@example.org", "bob@example.net")]
    assert others and all(r.provider_message_id is None for r in others)


def test_an_ses_notification_is_matched_by_the_ses_message_id_too(hooks, sent):
    _, rows = sent
    ada = rows["ada@example.org"]
    response = hooks.sns(sns_notification(ses_bounce("ada@example.org", ses_id=SES_ID)))
    assert response.status_code == 200
    assert SendingLog.objects.get(pk=ada.pk).status == "failed"


def test_sendgrid_matches_by_its_own_message_id_and_reads_a_batch(hooks, sent):
    _, rows = sent
    bob = rows["bob@example.net"]
    SendingLog.objects.filter(pk=bob.pk).update(provider_message_id="W0JRHuTZQ5i1EgM0Lb7QCQ")
    response = hooks.sendgrid([
        {"email": "bob@example.net", "event": "processed", "timestamp": 1767603570},
        sendgrid_bounce("bob@example.net",
                        sg_message_id="W0JRHuTZQ5i1EgM0Lb7QCQ.filterdrecv-5645d9c87f-2n9qm"
                                      "-1-5F4F1F9E-1A.0"),
        {"email": "bob@example.net", "event": "open", "timestamp": 1767603570}])
    assert response.json() == {"received": 1}
    assert SendingLog.objects.get(pk=bob.pk).status == "failed"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_complaint_denylists_the_address(hooks, sent, provider):
    _, rows = sent
    ada = rows["ada@example.org"]
    if provider == "ses":
        complaint = {"notificationType": "Complaint", "mail": {
            "messageId": "x", "source": return_path(ada), "destination": [ada.address]},
            "complaint": {"complainedRecipients": [{"emailAddress": ada.address}],
                          "complaintFeedbackType": "abuse",
                          "timestamp": "2026-01-05T09:00:00.000Z"}}
        response = hooks.sns(sns_notification(complaint))
    elif provider == "sendgrid":
        response = hooks.sendgrid([{"email": ada.address, "timestamp": 1767603570,
                                    "event": "spamreport", "smtp-id": ada.message_id,
                                    "sg_event_id": "e1", "sg_message_id": "m1.filter1"}])
    elif provider == "mailgun":
        response = hooks.mailgun({"event": "complained", "recipient": ada.address,
                                  "timestamp": 1767603570.1, "id": "c1",
                                  "message": {"headers": {"message-id":
                                                          ada.message_id.strip("<>")}}})
    else:
        SendingLog.objects.filter(pk=ada.pk).update(provider_message_id="pm-1")
        response = hooks.postmark({"RecordType": "SpamComplaint", "ID": 42,
                                   "Type": "SpamComplaint", "TypeCode": 512,
                                   "MessageID": "pm-1", "Email": ada.address,
                                   "BouncedAt": "2026-01-05T09:00:00Z"})
    assert response.status_code == 200, response.content
    assert Quarantine.objects.get(address=ada.address).status == "denylisted"
    assert SendingLog.objects.get(pk=ada.pk).status == "sent"  # the message arrived


@pytest.mark.parametrize("provider", ["sendgrid", "mailgun", "postmark"])
def test_a_refusal_the_provider_calls_temporary_never_quarantines(hooks, sent, provider):
    _, rows = sent
    ada = rows["ada@example.org"]
    if provider == "sendgrid":
        hooks.sendgrid([sendgrid_bounce(ada.address, smtp_id=ada.message_id,
                                        bounce_type="blocked", status="5.7.1",
                                        reason="550 5.7.1 Service unavailable; client host "
                                               "blocked using Spamhaus")])
    elif provider == "mailgun":
        hooks.mailgun(mailgun_failed(ada.address, message_id=ada.message_id,
                                     severity="temporary", code=452,
                                     message="4.2.2 The email account is over quota"))
    else:
        SendingLog.objects.filter(pk=ada.pk).update(provider_message_id="pm-2")
        hooks.postmark(postmark_bounce(ada.address, message_id="pm-2", kind="Transient",
                                       type_code=2, details="smtp;550 5.1.1 user unknown"))
    status = Quarantine.objects.filter(address=ada.address).values_list("status", flat=True)
    assert "quarantined" not in list(status)
    assert InboundMessage.objects.get().outcome == "matched"


def test_a_delivery_event_marks_the_row_delivered(hooks, sent):
    delivery, rows = sent
    ada = rows["ada@example.org"]
    response = hooks.sendgrid([{"email": ada.address, "timestamp": 1767603570,
                                "event": "delivered", "smtp-id": ada.message_id,
                                "response": "250 2.0.0 OK 1767603570 x1si", "sg_event_id": "d",
                                "sg_message_id": "m.filter0"}])
    assert response.json() == {"received": 1}
    assert SendingLog.objects.get(pk=ada.pk).status == "delivered"
    hooks.mailgun(mailgun_failed(ada.address, message_id=ada.message_id))
    assert SendingLog.objects.get(pk=ada.pk).status == "failed"  # a later bounce still counts


def test_an_unmatched_event_is_kept_and_changes_nothing(hooks, sent):
    response = hooks.sendgrid([sendgrid_bounce("ada@example.org",
                                               smtp_id="<9.99999.envoi@elsewhere.example>",
                                               sg_message_id="unknown.filter0")])
    assert response.status_code == 200
    assert InboundMessage.objects.get().outcome == "unmatched"
    assert not SendingLog.objects.filter(status="failed").exists()


# -- refused calls ------------------------------------------------------------------


def refused(response, status: int, provider: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]
    entry = AuditEntry.objects.filter(action="webhook.refused").latest("id")
    assert (entry.allowed, entry.detail["provider"], entry.detail["status"]) == (
        False, provider, status)
    assert not InboundMessage.objects.exists()
    assert not SendingLog.objects.filter(status="failed").exists()
    assert not Quarantine.objects.filter(address="ada@example.org").exists()


def test_forged_sns_calls_are_refused(hooks, sent, keys, fetched):
    _, rows = sent
    ada = rows["ada@example.org"]
    genuine = ses_bounce(ada.address, source=return_path(ada))
    body = json.loads(hooks.sns_body(sns_notification(genuine)))
    body["Message"] = json.dumps(ses_bounce("bob@example.net", source=return_path(ada)))
    refused(hooks.post("ses", json.dumps(body).encode()), 403, "ses")
    other_topic = sns_notification(genuine, topic="arn:aws:sns:eu-west-1:999999999999:x")
    refused(hooks.sns(other_topic), 403, "ses")
    elsewhere = hooks.sns_body(sns_notification(genuine),
                               SigningCertURL="https://attacker.example/cert.pem")
    refused(hooks.post("ses", elsewhere), 403, "ses")
    assert set(fetched) <= {SNS_CERT_URL}


def test_forged_sendgrid_calls_are_refused(hooks, sent, keys):
    _, rows = sent
    event = [sendgrid_bounce("ada@example.org", smtp_id=rows["ada@example.org"].message_id)]
    refused(hooks.sendgrid(event, key=ec.generate_private_key(ec.SECP256R1())), 403,
            "sendgrid")
    stale = str(int(hooks.now.timestamp()) - 3600)
    refused(hooks.sendgrid(event, timestamp=stale), 403, "sendgrid")
    genuine = hooks.sendgrid  # signed over one body, sent with another
    body = json.dumps(event).encode()
    response = hooks.post("sendgrid", body.replace(b"5.1.1", b"5.1.2", 1), headers={
        "X-Twilio-Email-Event-Webhook-Signature": "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+Uy"
                                                  "UlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRa"
                                                  "mr2nlxFDWYNH2j/0=",
        "X-Twilio-Email-Event-Webhook-Timestamp": str(int(hooks.now.timestamp()))})
    refused(response, 403, "sendgrid")
    refused(hooks.post("sendgrid", body), 401, "sendgrid")
    assert genuine(event).status_code == 200  # the genuine call still goes through


def test_forged_mailgun_calls_are_refused(hooks, sent):
    _, rows = sent
    event = mailgun_failed("ada@example.org", message_id=rows["ada@example.org"].message_id)
    refused(hooks.mailgun(event, key="key-not-the-right-one"), 403, "mailgun")
    refused(hooks.mailgun(event, timestamp=int(hooks.now.timestamp()) - 3600), 403, "mailgun")
    refused(hooks.post("mailgun", json.dumps({"event-data": event}).encode()), 401, "mailgun")
    signature = hooks.mailgun_signature()
    tampered = {"signature": {**signature, "token": signature["token"][::-1]},
                "event-data": event}
    refused(hooks.post("mailgun", json.dumps(tampered).encode()), 403, "mailgun")
    # A genuine call is applied once; the same call replayed is refused.
    genuine = json.dumps({"signature": signature, "event-data": event}).encode()
    assert hooks.post("mailgun", genuine).status_code == 200
    replay = hooks.post("mailgun", genuine)
    assert replay.status_code == 403 and "replayed" in replay.json()["error"]
    assert InboundMessage.objects.count() == 1


def test_forged_postmark_calls_are_refused(hooks, sent):
    _, rows = sent
    event = postmark_bounce("bob@example.net", message_id=POSTMARK_ID)
    refused(hooks.postmark(event, credentials="postmark:guess"), 403, "postmark")
    refused(hooks.post("postmark", json.dumps(event).encode()), 401, "postmark")
    response = hooks.post("postmark", json.dumps(event).encode(),
                          headers={"Authorization": "Bearer " + POSTMARK_CREDENTIALS})
    refused(response, 403, "postmark")
    assert hooks.post("postmark", b"{}").status_code == 401


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unconfigured_provider_answers_404(client, provider):
    response = client.post(f"/hooks/{provider}", data=b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]
    assert not AuditEntry.objects.filter(action="webhook.refused").exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_only_post_is_accepted(hooks, provider):
    response = hooks.client.get(f"/hooks/{provider}")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_verified_but_unreadable_bodies_answer_400(hooks):
    assert hooks.sendgrid([], body=b'{"not": "an array"}').status_code == 400
    auth = {"Authorization": "Basic " + __import__("base64").b64encode(
        POSTMARK_CREDENTIALS.encode()).decode()}
    assert hooks.post("postmark", b"{oops", headers=auth).status_code == 400
    assert not InboundMessage.objects.exists()


def test_an_sns_subscription_is_confirmed(hooks, monkeypatch):
    visited: list[str] = []
    monkeypatch.setattr(views, "confirm_subscription", visited.append)
    confirm = ("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
               f"&TopicArn={SNS_TOPIC}&Token=2336412f37")
    response = hooks.sns({"Type": "SubscriptionConfirmation", "MessageId": "165545c9",
                          "Token": "2336412f37", "TopicArn": SNS_TOPIC,
                          "Message": "You have chosen to subscribe to the topic...",
                          "SubscribeURL": confirm, "Timestamp": "2026-01-05T08:59:58.000Z"})
    assert response.status_code == 200 and visited == [confirm]
    assert not InboundMessage.objects.exists()


def test_a_bad_sendgrid_key_in_the_configuration_refuses_without_a_500(hooks, settings):
    settings.ENVOI_SENDGRID_PUBLIC_KEY = "not a key"
    response = hooks.sendgrid([sendgrid_bounce("ada@example.org")])
    assert response.status_code == 403


def test_other_ways_each_provider_names_the_row(hooks, sent):
    """Mailgun by the return path it reports, Postmark by the Message-ID in the bounce
    content it includes, SES by the Message-ID in its common headers."""
    _, rows = sent
    ada, bob = rows["ada@example.org"], rows["bob@example.net"]
    assert hooks.mailgun(mailgun_failed(ada.address, sender=return_path(ada))
                         ).status_code == 200
    content = f"Return-Path: <x@y>\r\nMessage-ID: {bob.message_id}\r\nSubject: s\r\n\r\nhi"
    assert hooks.postmark({**postmark_bounce(bob.address, message_id="not-ours"),
                           "Content": content}).status_code == 200
    assert {r.status for r in SendingLog.objects.filter(pk__in=[ada.pk, bob.pk])} == {
        "failed"}
    others = [r for a, r in rows.items() if a not in (ada.address, bob.address)]
    row = others[0]
    assert hooks.sns(sns_notification(ses_bounce(row.address, ses_id="x",
                                                 message_id=row.message_id))
                     ).status_code == 200
    assert SendingLog.objects.get(pk=row.pk).status == "failed"
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {"matched"}


def test_a_message_id_naming_a_row_it_was_not_sent_with_matches_nothing(hooks, sent):
    _, rows = sent
    ada = rows["ada@example.org"]
    delivery_id, row_id = ada.message_id.strip("<>").split(".")[:2]
    wrong_delivery = ada.message_id.replace(f"<{delivery_id}.", f"<{int(delivery_id) + 7}.")
    other_domain = ada.message_id.replace("@bounces.", "@elsewhere.")
    for header_id in (wrong_delivery, other_domain):
        response = hooks.sendgrid([sendgrid_bounce(ada.address, smtp_id=header_id,
                                                   sg_message_id="nothing.filter0")])
        assert response.status_code == 200
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {"unmatched"}
    assert SendingLog.objects.get(pk=ada.pk).status == "sent"


def test_an_unreachable_sns_host_answers_503_and_keeps_nothing(hooks, monkeypatch):
    def unreachable(url: str) -> bytes:
        raise OSError("Name or service not known")

    monkeypatch.setattr(views, "sns_certificates", unreachable)
    response = hooks.sns(sns_notification(ses_bounce("ada@example.org")))
    assert response.status_code == 503 and response.json()["error"]
    assert not InboundMessage.objects.exists()
