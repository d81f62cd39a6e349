"""Calls to the webhook endpoints as each provider makes them, signed with keys made
here: an ECDSA P-256 key for SendGrid, an HMAC key for Mailgun, basic-auth credentials
for Postmark and a certificate for SNS (served by a fetcher that records the URLs)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from envoi.bounces.webhooks import string_to_sign

SNS_CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
SNS_TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
MAILGUN_KEY = "key-" + "7f3a9c" * 5
POSTMARK_CREDENTIALS = "postmark:s3cret-webhook-pass"


def sns_certificate(key: rsa.RSAPrivateKey, start: dt.datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Keys:
    """The test's provider keys, generated once per module."""

    sns: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                         key_size=2048))
    sendgrid: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def sendgrid_public(self) -> str:
        """As SendGrid's settings page shows it: base64 of the DER public key."""
        der = self.sendgrid.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()


class Hooks:
    """Posts to /hooks/<provider> the way each provider does."""

    def __init__(self, keys: Keys, now: dt.datetime):
        self.keys, self.now = keys, now
        self.client = Client()

    # -- SES through SNS
    def sns(self, document: dict[str, Any], **changes: Any):
        return self.post("ses", self.sns_body(document, **changes))

    def sns_body(self, document: dict[str, Any], **changes: Any) -> bytes:
        document = {"SignatureVersion": "1", "SigningCertURL": SNS_CERT_URL, **document}
        signature = self.keys.sns.sign(string_to_sign(document), padding.PKCS1v15(),
                                       hashes.SHA1())  # noqa: S303 - SNS version 1
        document["Signature"] = base64.b64encode(signature).decode()
        document.update(changes)
        return json.dumps(document).encode()

    # -- SendGrid
    def sendgrid(self, events: list[dict[str, Any]], *, key=None, timestamp=None,
                 body: bytes | None = None):
        body = json.dumps(events).encode() if body is None else body
        stamp = str(int(self.now.timestamp())) if timestamp is None else timestamp
        signature = (key or self.keys.sendgrid).sign(stamp.encode() + body,
                                                     ec.ECDSA(hashes.SHA256()))
        return self.post("sendgrid", body, headers={
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp})

    # -- Mailgun
    def mailgun_signature(self, key: str = MAILGUN_KEY, timestamp: int | None = None,
                          token: str | None = None) -> dict[str, str]:
        stamp = str(int(self.now.timestamp()) if timestamp is None else timestamp)
        token = token or secrets.token_hex(25)
        digest = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256)
        return {"timestamp": stamp, "token": token, "signature": digest.hexdigest()}

    def mailgun(self, event_data: dict[str, Any], **signature: Any):
        return self.post("mailgun", json.dumps({
            "signature": self.mailgun_signature(**signature),
            "event-data": event_data}).encode())

    # -- Postmark
    def postmark(self, document: dict[str, Any], credentials: str = POSTMARK_CREDENTIALS):
        auth = base64.b64encode(credentials.encode()).decode()
        return self.post("postmark", json.dumps(document).encode(),
                         headers={"Authorization": f"Basic {auth}"})

    def post(self, provider: str, body: bytes, headers: dict[str, str] | None = None):
        return self.client.post(f"/hooks/{provider}", data=body,
                                content_type="application/json", headers=headers or {})


# -- payloads shaped as each provider documents them ------------------------------------


def ses_bounce(address: str, *, source: str = "", message_id: str = "",
               ses_id: str = "0102018d-ses-id", bounce_type: str = "Permanent",
               status: str = "5.1.1",
               diagnostic: str = "smtp; 550 5.1.1 user unknown") -> dict[str, Any]:
    mail: dict[str, Any] = {"timestamp": "2026-01-05T08:59:00.000Z", "messageId": ses_id,
                            "source": source, "destination": [address]}
    if message_id:
        mail["commonHeaders"] = {"messageId": message_id, "subject": "Spring"}
    return {"notificationType": "Bounce", "mail": mail, "bounce": {
        "bounceType": bounce_type, "bounceSubType": "General",
        "timestamp": "2026-01-05T08:59:30.000Z", "feedbackId": "0102018d-feedback",
        "bouncedRecipients": [{"emailAddress": address, "action": "failed",
                               "status": status, "diagnosticCode": diagnostic}]}}


def sns_notification(message: dict[str, Any], topic: str = SNS_TOPIC) -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": topic, "Message": json.dumps(message),
            "Timestamp": "2026-01-05T08:59:58.000Z"}


def sendgrid_bounce(address: str, *, smtp_id: str = "",
                    sg_message_id: str = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
                    kind: str = "bounce", bounce_type: str = "bounce",
                    status: str = "5.1.1",
                    reason: str = "550 5.1.1 The email account that you tried to reach does "
                                  "not exist") -> dict[str, Any]:
    event = {"email": address, "timestamp": 1767603570, "event": kind,
             "category": ["spring"], "sg_event_id": secrets.token_urlsafe(16),
             "sg_message_id": sg_message_id, "reason": reason, "status": status,
             "type": bounce_type, "bounce_classification": "Invalid Address"}
    if smtp_id:
        event["smtp-id"] = smtp_id
    return event


def mailgun_failed(address: str, *, message_id: str = "", sender: str = "",
                   severity: str = "permanent", code: int = 550,
                   message: str = "5.1.1 The email account that you tried to reach does "
                                  "not exist") -> dict[str, Any]:
    return {
        "event": "failed", "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": 1767603570.7,
        "log-level": "error", "severity": severity, "reason": "bounce",
        "recipient": address, "recipient-domain": address.split("@")[-1],
        "envelope": {"sender": sender, "transport": "smtp", "targets": address},
        "message": {"headers": {"to": address, "message-id": message_id.strip("<>"),
                                "from": "news@shop.example.com", "subject": "Spring"},
                    "size": 2134},
        "delivery-status": {"attempt-no": 1, "code": code, "message": message,
                            "description": "", "session-seconds": 0.4,
                            "enhanced-code": "", "mx-host": "mx.example.org"},
        "flags": {"is-authenticated": True, "is-test-mode": False},
    }


def postmark_bounce(address: str, *, message_id: str = "883953f4-6105-42a2-a16a-77a8eac79483",
                    kind: str = "HardBounce", type_code: int = 1,
                    details: str = "smtp;550 5.1.1 The email account that you tried to "
                                   "reach does not exist") -> dict[str, Any]:
    return {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": kind,
            "TypeCode": type_code, "Name": "Hard bounce", "Tag": "spring",
            "MessageID": message_id, "ServerID": 23, "MessageStream": "outbound",
            "Description": "The server was unable to deliver your message (ex: unknown "
                           "user, mailbox not found).",
            "Details": details, "Email": address, "From": "news@shop.example.com",
            "BouncedAt": "2026-01-05T08:59:30Z", "DumpAvailable": True, "Inactive": True,
            "CanActivate": True, "Subject": "Spring", "Metadata": {}}
