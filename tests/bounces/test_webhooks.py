"""SES notifications posted by SNS: only genuine SNS messages are read.

The signing certificate is generated here and served by an injected fetcher (no
network); a certificate URL off ``sns.<region>.amazonaws.com`` is never fetched."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from envoi.bounces.webhooks import CertificateCache, WebhookRefused, read_sns, string_to_sign

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def certificate(key: rsa.RSAPrivateKey, *, days: int = 365,
                start: dt.datetime = NOW - dt.timedelta(days=1)) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Fetcher:
    def __init__(self, pem: bytes):
        self.pem, self.urls = pem, []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


@pytest.fixture
def fetch(key) -> Fetcher:
    return Fetcher(certificate(key))


SES_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
               "bouncedRecipients": [{"emailAddress": "ada@example.org", "action": "failed",
                                      "status": "5.1.1",
                                      "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
    "mail": {"messageId": "0102018d-ses-id"},
}


def signed(key, document: dict, version: str = "2", **changes) -> bytes:
    document = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **document}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(document), padding.PKCS1v15(), algorithm)
    document["Signature"] = base64.b64encode(signature).decode()
    document.update(changes)
    return json.dumps(document).encode()


def notification(**fields) -> dict:
    return {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c", "TopicArn": TOPIC,
            "Message": json.dumps(SES_BOUNCE), "Timestamp": "2026-01-05T08:59:58.000Z",
            **fields}


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_ses_bounce_is_read(key, fetch, version):
    message = read_sns(signed(key, notification(Subject="Amazon SES"), version), fetch,
                       now=NOW)
    assert (message.kind, message.topic_arn) == ("Notification", TOPIC)
    assert message.notification is not None
    assert message.notification.event == "bounce" and message.notification.permanent
    assert message.notification.recipients[0]["address"] == "ada@example.org"
    assert fetch.urls == [CERT_URL]


@pytest.mark.parametrize("change", [
    {"Message": json.dumps({**SES_BOUNCE, "bounce": {**SES_BOUNCE["bounce"],
                                                     "bounceType": "Transient"}})},
    {"TopicArn": "arn:aws:sns:eu-west-1:999999999999:other"},
    {"Signature": base64.b64encode(b"\0" * 256).decode()},
    {"Signature": "not base64!"},
    {"SignatureVersion": "3"},
])
def test_a_message_changed_after_signing_is_refused(key, fetch, change):
    with pytest.raises(WebhookRefused):
        read_sns(signed(key, notification(), **change), fetch, now=NOW)


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com.attacker.example/cert.pem",
    "https://attacker.example/sns.eu-west-1.amazonaws.com/cert.pem",
    "https://s3.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com@attacker.example/cert.pem",
    "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
    "https://sns.eu-west-1.amazonaws.com/cert.txt",
])
def test_a_certificate_off_the_sns_hosts_is_never_fetched(key, fetch, url):
    """A forger signing with their own key names their own certificate: refused
    before anything is fetched."""
    body = json.loads(signed(key, notification()))
    body["SigningCertURL"] = url
    with pytest.raises(WebhookRefused):
        read_sns(json.dumps(body), fetch, now=NOW)
    assert fetch.urls == []


def test_a_signature_by_another_key_is_refused(key, fetch):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(WebhookRefused):
        read_sns(signed(other, notification()), fetch, now=NOW)


def test_an_expired_certificate_is_refused(key):
    old = Fetcher(certificate(key, days=30, start=NOW - dt.timedelta(days=60)))
    with pytest.raises(WebhookRefused):
        read_sns(signed(key, notification()), old, now=NOW)


def test_only_the_configured_topics_are_accepted(key, fetch):
    with pytest.raises(WebhookRefused):
        read_sns(signed(key, notification()), fetch, topics={"arn:aws:sns:x:1:other"},
                 now=NOW)
    assert read_sns(signed(key, notification()), fetch, topics={TOPIC}, now=NOW)


def test_a_subscription_confirmation_gives_the_url_to_confirm(key, fetch):
    confirm = ("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
               f"&TopicArn={TOPIC}&Token=2336412f37")
    document = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9", "Token": "2336412f37",
                "TopicArn": TOPIC, "Message": "You have chosen to subscribe...",
                "SubscribeURL": confirm, "Timestamp": "2026-01-05T08:59:58.000Z"}
    message = read_sns(signed(key, document), fetch, now=NOW)
    assert (message.kind, message.subscribe_url, message.notification) == (
        "SubscriptionConfirmation", confirm, None)
    elsewhere = {**document, "SubscribeURL": "https://attacker.example/?Action=Confirm"}
    with pytest.raises(WebhookRefused):
        read_sns(signed(key, elsewhere), fetch, now=NOW)


@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b'{"Type": "Notification"}'])
def test_bodies_that_are_no_sns_message_are_refused(fetch, body):
    with pytest.raises(WebhookRefused):
        read_sns(body, fetch, now=NOW)


def test_certificates_are_fetched_once(key, fetch):
    cache = CertificateCache(fetch)
    for _ in range(3):
        read_sns(signed(key, notification()), cache, now=NOW)
    assert fetch.urls == [CERT_URL]


@pytest.mark.django_db
def test_a_verified_ses_bounce_fails_its_row_and_quarantines(key, fetch, relay, send_all,
                                                            bounce_domain):
    from envoi.bounces.models import InboundMessage, Quarantine
    from envoi.bounces.webhooks import receive_sns
    from envoi.sending.models import SendingLog
    from tests.support.deliveries import delivery_in

    delivery_in("in_progress")
    send_all()
    ada = next(m for m in relay.messages if m.rcpt_to[0] == "ada@example.org")
    ses = {**SES_BOUNCE, "mail": {"messageId": "0102018d-ses-id", "source": ada.mail_from,
                                  "destination": ["ada@example.org"]}}
    body = signed(key, notification(Message=json.dumps(ses)))
    message, inbound = receive_sns(body, fetch, now=NOW)
    assert message.kind == "Notification" and inbound is not None
    stored = InboundMessage.objects.get(pk=inbound.pk)
    assert (stored.source, stored.outcome) == ("sns", "matched")
    found = SendingLog.objects.get(address="ada@example.org")
    assert (found.status, found.failure_type, found.failure_reason) == (
        "failed", "hard", "user_unknown")
    assert Quarantine.objects.get(address="ada@example.org").status == "quarantined"

    forged = json.loads(body)
    forged["Message"] = json.dumps({**ses, "bounce": {**ses["bounce"], "bouncedRecipients": [
        {"emailAddress": "bob@example.net", "status": "5.1.1"}]}})
    with pytest.raises(WebhookRefused):
        receive_sns(json.dumps(forged), fetch, now=NOW)
    assert InboundMessage.objects.count() == 1


def test_the_production_fetcher_refuses_hosts_other_than_sns():
    from envoi.bounces.webhooks import fetch_over_https

    with pytest.raises(WebhookRefused):
        fetch_over_https("https://attacker.example/cert.pem")
