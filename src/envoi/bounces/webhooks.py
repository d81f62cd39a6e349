"""Provider webhooks: Amazon SES notifications that SNS posts to an HTTP endpoint.

SNS signs every message it posts. Nothing in a message is trusted before its
signature is verified against the certificate named by ``SigningCertURL``, and that
URL must be an ``https`` URL on ``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn``
in China) ending in ``.pem``: a message naming a certificate anywhere else is refused
without fetching it, so a forger cannot bring their own certificate. The certificate
must be valid now. Signature version 1 is RSA with SHA-1, version 2 RSA with SHA-256.

Fetching the certificate is the caller's (``fetch_certificate(url) -> PEM bytes``), so
tests and air-gapped installations inject their own; :class:`CertificateCache` keeps
the certificates already fetched. A verified ``Notification`` carries the SES JSON,
read by :func:`envoi.bounces.providers.ses_notification` like SES mail; a verified
``SubscriptionConfirmation`` gives the ``SubscribeURL`` to visit (checked like the
certificate URL) to confirm the subscription. :func:`receive_sns` keeps a verified
notification as an inbound message (``source="sns"``, the SES JSON as the body of a
message shaped like SNS's own mail) and applies it like any bounce, so the row is found
by the return path SES names (``mail.source``) and the per-recipient reading decides.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from envoi.bounces.providers import Notification, ses_notification

if TYPE_CHECKING:
    from envoi.bounces.models import InboundMessage

CertificateFetcher = Callable[[str], bytes]

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")

# The fields SNS signs, in this order, for each message type (absent ones are skipped).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp",
                                 "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp",
                                "Token", "TopicArn", "Type"),
}


class WebhookRefused(Exception):
    """The message is not a genuine SNS message (or not one we accept)."""


@dataclass
class SnsMessage:
    kind: str  # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    topic_arn: str
    message_id: str
    subscribe_url: str = ""
    notification: Notification | None = None  # the SES reading of a Notification


def sns_url(url: str, *, path_suffix: str = "") -> bool:
    """Whether a URL is https on an SNS regional host (no credentials, default port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (parts.scheme == "https" and port in (None, 443) and not parts.username
            and not parts.password and bool(SNS_HOST.match(host))
            and parts.netloc.lower().split(":")[0] == host
            and parts.path.endswith(path_suffix))


def string_to_sign(document: dict[str, Any]) -> bytes:
    kind = document.get("Type")
    fields = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise WebhookRefused(f"unknown SNS message type {kind!r}")
    lines = []
    for name in fields:
        if name in document and document[name] is not None:
            if not isinstance(document[name], str):
                raise WebhookRefused(f"SNS field {name} is not a string")
            lines.append(f"{name}\n{document[name]}\n")
        elif name != "Subject":
            raise WebhookRefused(f"SNS message without {name}")
    return "".join(lines).encode("utf-8")


class CertificateCache:
    """Signing certificates by URL, fetched once through the injected fetcher."""

    def __init__(self, fetch: CertificateFetcher):
        self.fetch = fetch
        self.pems: dict[str, bytes] = {}

    def __call__(self, url: str) -> bytes:
        if url not in self.pems:
            self.pems[url] = self.fetch(url)
        return self.pems[url]


def fetch_over_https(url: str, timeout: float = 10.0, limit: int = 64 * 1024) -> bytes:
    """The production fetcher: a PEM from an SNS host over https (nothing else)."""
    from urllib.request import urlopen

    if not sns_url(url, path_suffix=".pem"):
        raise WebhookRefused(f"signing certificate not on an SNS host: {url!r}")
    with urlopen(url, timeout=timeout) as response:  # noqa: S310 - https on SNS only
        data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise WebhookRefused("SNS signing certificate too large")
    return data


def verify(document: dict[str, Any], fetch_certificate: CertificateFetcher,
           now: dt.datetime | None = None) -> None:
    """Raise :class:`WebhookRefused` unless SNS signed this message."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = document.get("SignatureVersion")
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - what SNS signature version 1 is
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise WebhookRefused(f"unknown SNS signature version {version!r}")
    url = document.get("SigningCertURL")
    if not isinstance(url, str) or not sns_url(url, path_suffix=".pem"):
        raise WebhookRefused(f"signing certificate not on an SNS host: {url!r}")
    try:
        signature = base64.b64decode(str(document.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRefused("unreadable SNS signature") from exc
    signed = string_to_sign(document)
    try:
        certificate = x509.load_pem_x509_certificate(fetch_certificate(url))
    except ValueError as exc:
        raise WebhookRefused("unreadable SNS signing certificate") from exc
    moment = now or dt.datetime.now(dt.UTC)
    if not (certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc):
        raise WebhookRefused("SNS signing certificate not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRefused("SNS signing certificate without an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise WebhookRefused("bad SNS signature") from exc


def read_sns(body: bytes | str, fetch_certificate: CertificateFetcher, *,
             topics: set[str] | None = None, now: dt.datetime | None = None) -> SnsMessage:
    """Verify an SNS POST body and read it; ``topics`` limits the accepted topic ARNs."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookRefused("SNS body is not JSON") from exc
    if not isinstance(document, dict):
        raise WebhookRefused("SNS body is not a JSON object")
    verify(document, fetch_certificate, now=now)
    topic = str(document.get("TopicArn", ""))
    if topics is not None and topic not in topics:
        raise WebhookRefused(f"SNS topic not accepted: {topic}")
    message = SnsMessage(kind=str(document["Type"]), topic_arn=topic,
                         message_id=str(document.get("MessageId", "")))
    if message.kind == "Notification":
        message.notification = ses_notification(document)
    else:
        subscribe = str(document.get("SubscribeURL") or "")
        if not sns_url(subscribe):
            raise WebhookRefused(f"subscription URL not on an SNS host: {subscribe!r}")
        message.subscribe_url = subscribe
    return message


def receive_sns(body: bytes | str, fetch_certificate: CertificateFetcher, *,
                topics: set[str] | None = None,
                now: dt.datetime | None = None) -> tuple[SnsMessage, InboundMessage | None]:
    """Verify an SNS POST and, for an SES notification, store and apply it like a
    bounce received by mail. Raises :class:`WebhookRefused` (answer 403) when the
    message is not SNS's; subscription messages are returned, not stored."""
    from envoi.bounces.hooks import receive_notification

    message = read_sns(body, fetch_certificate, topics=topics, now=now)
    if message.kind != "Notification" or message.notification is None:
        return message, None
    document = json.loads(body)

    def header(value: str) -> str:
        return value.replace("\r", " ").replace("\n", " ")

    # Kept shaped like SNS's own mail, so it reads the same way as SES notifications
    # that arrive by mail.
    raw = (f"From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n"
           f"Message-ID: <{header(message.message_id)}@sns.amazonaws.com>\r\n"
           f"X-SNS-Topic-Arn: {header(message.topic_arn)}\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n").encode()
    raw += str(document.get("Message", "")).encode("utf-8", "replace") + b"\r\n"
    return message, receive_notification("sns", raw, message.notification)


# -- SendGrid, Mailgun, Postmark ---------------------------------------------------------


def fresh(timestamp: str, now: dt.datetime, max_age: int) -> None:
    """Refuse a signed timestamp further than ``max_age`` seconds from now (a replay of
    an old call, or a clock far off)."""
    try:
        moment = int(timestamp)
    except (TypeError, ValueError) as exc:
        raise WebhookRefused("unreadable signature timestamp") from exc
    if abs(now.timestamp() - moment) > max_age:
        raise WebhookRefused("signature timestamp too old or in the future")


def sendgrid_public_key(configured: str) -> Any:
    """SendGrid's verification key as its settings page shows it (base64 DER), or PEM."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        load_der_public_key,
        load_pem_public_key,
    )

    text = configured.strip()
    try:
        key = (load_pem_public_key(text.encode()) if text.startswith("-----")
               else load_der_public_key(base64.b64decode(text, validate=True)))
    except (ValueError, binascii.Error) as exc:
        raise ValueError("ENVOI_SENDGRID_PUBLIC_KEY is not an ECDSA public key "
                         "(base64 or PEM)") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("ENVOI_SENDGRID_PUBLIC_KEY is not an ECDSA public key")
    return key


def verify_sendgrid(body: bytes, signature: str, timestamp: str, public_key: Any,
                    now: dt.datetime, max_age: int) -> None:
    """SendGrid's Signed Event Webhook: ECDSA (SHA-256) over the timestamp header
    followed by the raw body, the signature base64 DER in its header."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        raise WebhookRefused("SendGrid signature headers missing")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        public_key.verify(raw_signature, timestamp.encode() + body,
                          ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise WebhookRefused("bad SendGrid signature") from exc
    fresh(timestamp, now, max_age)


def verify_mailgun(document: dict[str, Any], signing_key: str, now: dt.datetime,
                   max_age: int) -> None:
    """Mailgun: the body's ``signature`` object holds a timestamp, a random token and
    the hex HMAC-SHA256 of timestamp + token under the webhook signing key."""
    import hashlib
    import hmac

    signed = document.get("signature")
    if not isinstance(signed, dict):
        raise WebhookRefused("Mailgun call without a signature")
    timestamp, token, signature = (signed.get(k) for k in ("timestamp", "token", "signature"))
    if isinstance(timestamp, int):
        timestamp = str(timestamp)
    if not all(isinstance(v, str) and v for v in (timestamp, token, signature)):
        raise WebhookRefused("Mailgun signature incomplete")
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(),
                        hashlib.sha256).hexdigest()
    given = str(signature).lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode(), given):
        raise WebhookRefused("bad Mailgun signature")
    fresh(str(timestamp), now, max_age)
    if not MAILGUN_TOKENS.first_use(str(token), now.timestamp() + max_age):
        raise WebhookRefused("Mailgun token already used (a replayed call)")


class SeenTokens:
    """Tokens already accepted in this process, kept until their timestamp would be
    refused anyway: a call replayed within the window is refused here, and one that
    reaches another process changes nothing (applying an event twice is a no-op)."""

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self.until: dict[str, float] = {}

    def first_use(self, token: str, keep_until: float) -> bool:
        if token in self.until:
            return False
        if len(self.until) >= self.limit:
            oldest = sorted(self.until.items(), key=lambda item: item[1])
            self.until = dict(oldest[len(oldest) // 2:])
        self.until[token] = keep_until
        return True


MAILGUN_TOKENS = SeenTokens()


def verify_basic_auth(authorization: str, credentials: str) -> None:
    """Postmark: the webhook URL carries ``user:password@``, sent as HTTP basic auth."""
    import hmac

    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRefused("basic authentication required")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRefused("unreadable basic authentication") from exc
    if not hmac.compare_digest(given, credentials.encode()):
        raise WebhookRefused("wrong basic authentication credentials")
