"""The event payloads of SendGrid, Mailgun and Postmark, read into :class:`Notification`.

Each provider's own words are turned into what a delivery status notification would
say about the recipient (an enhanced status and a diagnostic), so the qualification
table decides the failure type and reason exactly as for a bounce received by mail.
A provider's own verdict ("permanent", "HardBounce") is used only where the event
carries no reply of the remote server; a provider that says the failure is temporary
can never make it hard.

What ties an event to its sending-log row is kept alongside: the Message-ID header we
wrote (SendGrid's ``smtp-id``, Mailgun's ``message.headers.message-id``), the return
path we sent from (Mailgun's ``envelope.sender``), and the provider's own message id
(SendGrid's ``sg_message_id``, Postmark's ``MessageID``), which the relay's ``250``
reply carried at sending.

Only the events about delivery are read: bounces, drops, deferrals, deliveries and
complaints. Opens, clicks and the like return ``None``.
"""

from __future__ import annotations

import re
from typing import Any

from envoi.bounces.providers import Notification

SMTP_CODE = re.compile(r"\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b")


def _text(value: Any, limit: int = 500) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) else ""


def _address(value: Any) -> str:
    return _text(value, 320).strip().strip("<>").lower()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bracketed(value: Any) -> list[str]:
    """A Message-ID as a header writes it, ``<left@right>``, brackets added if missing."""
    text = _text(value, 300).strip()
    if not text:
        return []
    return [text if text.startswith("<") else f"<{text}>"]


# -- SendGrid ---------------------------------------------------------------------------

# A drop is SendGrid refusing to send at all; its reason says why (suppression lists).
SENDGRID_DROPS = {
    "bounced address": ("5.1.1", "address on the provider's suppression list after a hard "
                                 "bounce"),
    "invalid": ("5.1.3", "invalid address"),
}


def sendgrid_event(event: Any) -> Notification | None:
    """One event of SendGrid's Event Webhook (its body is a JSON array of them)."""
    if not isinstance(event, dict):
        return None
    kind = _text(event.get("event"), 40)
    address = _address(event.get("email"))
    status = _text(event.get("status"), 32)
    reason = _text(event.get("reason")) or _text(event.get("response"))
    recipient = {"address": address, "status": status, "diagnostic": reason}
    if kind == "bounce":
        # "blocked" is SendGrid's word for a refusal it expects to clear (a block list,
        # a rate limit): never permanent, whatever the code.
        permanent = _text(event.get("type"), 20) != "blocked"
        notification = Notification(event="bounce", permanent=permanent,
                                    recipients=[recipient])
    elif kind == "dropped":
        words = reason.strip().lower()
        fallback = next((v for k, v in SENDGRID_DROPS.items() if words.startswith(k)),
                        ("5.7.1", f"dropped by the provider: {reason}"))
        notification = Notification(event="bounce", permanent=True, recipients=[
            {"address": address, "status": fallback[0], "diagnostic": fallback[1]}])
    elif kind in ("delivered", "deferred"):
        notification = Notification(event="delivery" if kind == "delivered" else "delay",
                                    recipients=[recipient])
    elif kind == "spamreport":
        notification = Notification(event="complaint", feedback_type="abuse",
                                    recipients=[{"address": address}])
    else:
        return None
    provider_id = _text(event.get("sg_message_id"), 200)
    # sg_message_id is the id of the 250 reply ("queued as <id>") plus a filter suffix.
    notification.message_id = provider_id.split(".filter", 1)[0]
    notification.header_ids = _bracketed(event.get("smtp-id"))
    return notification


# -- Mailgun ----------------------------------------------------------------------------


def mailgun_event(data: Any) -> Notification | None:
    """The ``event-data`` object of one Mailgun webhook call."""
    if not isinstance(data, dict):
        return None
    kind = _text(data.get("event"), 40)
    address = _address(data.get("recipient"))
    status = _object(data.get("delivery-status"))
    code = status.get("code") if isinstance(status.get("code"), int) else 0
    code = code if isinstance(code, int) else 0
    words = " ".join(filter(None, [_text(status.get("message")),
                                   _text(status.get("description"))]))
    enhanced = _text(status.get("enhanced-code"), 32)
    if kind == "failed":
        permanent = _text(data.get("severity"), 20) == "permanent"
        if code >= 600 or not code:
            # Mailgun's own codes (605: previously bounced, 607: complained...) are no
            # reply of a server: the reason says what the suppression was.
            enhanced, words = _mailgun_suppression(_text(data.get("reason"), 40), words)
            diagnostic = words
        else:
            diagnostic = f"smtp; {code} {words}".strip()
        notification = Notification(
            event="bounce" if permanent else "delay", permanent=permanent,
            recipients=[{"address": address, "status": enhanced, "diagnostic": diagnostic}])
    elif kind == "delivered":
        notification = Notification(event="delivery", recipients=[{"address": address}])
    elif kind == "complained":
        notification = Notification(event="complaint", feedback_type="abuse",
                                    recipients=[{"address": address}])
    else:
        return None
    headers = _object(_object(data.get("message")).get("headers"))
    notification.header_ids = _bracketed(headers.get("message-id"))
    notification.return_paths = [_address(_object(data.get("envelope")).get("sender"))]
    return notification


def _mailgun_suppression(reason: str, words: str) -> tuple[str, str]:
    if reason == "suppress-bounce":
        return "5.1.1", "address on the provider's suppression list after a hard bounce"
    return "5.7.1", f"refused by the provider ({reason or 'no reason'}): {words}"[:500]


# -- Postmark ---------------------------------------------------------------------------

# Postmark's bounce types: whether permanent, and what they say when Details has no code.
POSTMARK_BOUNCES: dict[str, tuple[bool, str, str]] = {
    "HardBounce": (True, "5.1.1", "unknown user"),
    "BadEmailAddress": (True, "5.1.3", "invalid address"),
    "Transient": (False, "4.0.0", "temporary failure"),
    "SoftBounce": (False, "4.2.0", "temporary failure"),
    "DnsError": (False, "4.4.3", "temporary DNS failure"),
    "SpamNotification": (True, "5.7.1", "refused as spam"),
    "Blocked": (True, "5.7.1", "blocked by the recipient's server"),
    "VirusNotification": (True, "5.7.1", "refused as carrying a virus"),
    "DMARCPolicy": (True, "5.7.1", "refused by the sender domain's DMARC policy"),
    "ChallengeVerification": (False, "4.7.0", "challenge-response verification"),
}


def postmark_event(document: Any) -> Notification | None:
    """One Postmark webhook call (one record: Bounce, SpamComplaint, Delivery)."""
    if not isinstance(document, dict):
        return None
    record = _text(document.get("RecordType"), 40)
    kind = _text(document.get("Type"), 40)
    if record == "Bounce" and kind in POSTMARK_BOUNCES:
        permanent, status, words = POSTMARK_BOUNCES[kind]
        details = _text(document.get("Details"))
        if SMTP_CODE.search(details):
            status = ""  # the remote server's own reply decides
        notification = Notification(event="bounce", permanent=permanent, recipients=[{
            "address": _address(document.get("Email")), "status": status,
            "diagnostic": details or words}])
    elif record == "SpamComplaint" or (record == "Bounce" and kind == "SpamComplaint"):
        notification = Notification(event="complaint", feedback_type="abuse",
                                    recipients=[{"address": _address(document.get("Email"))}])
    elif record == "Delivery":
        notification = Notification(event="delivery", recipients=[
            {"address": _address(document.get("Recipient"))}])
    else:
        return None  # auto-responders, opens, clicks, subscription changes
    notification.message_id = _text(document.get("MessageID"), 200)
    # With "include bounce content", the bounced message's own headers come along.
    content = _text(document.get("Content"), 20000)
    found = re.search(r"^Message-ID:\s*(<[^<>\s]{1,250}>)", content, re.I | re.M)
    notification.header_ids = [found.group(1)] if found else []
    return notification
