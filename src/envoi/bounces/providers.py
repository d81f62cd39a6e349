"""Notifications that email services write as JSON rather than as a report.

Amazon SES publishes its bounce, complaint and delivery notifications through SNS,
which can deliver them by mail (the JSON as the body of "AWS Notification Message")
or, later, to an HTTP endpoint (the same JSON wrapped in an SNS envelope whose
``Message`` field holds it as a string). Both shapes are read here into the same
per-recipient readings as a delivery status notification, so the qualification table
decides: SES's own ``status`` and ``diagnosticCode`` of each recipient first, its
``bounceType``/``bounceSubType`` only where the recipient carries neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# What SES's bounce types say when a recipient carries no code or diagnostic of its own.
SES_SUBTYPES: dict[str, tuple[str, str]] = {
    # (enhanced status, words) fed to the qualification table like a reply
    "NoEmail": ("5.1.1", "no such mailbox"),
    "Suppressed": ("5.1.1", "address on the suppression list after a hard bounce"),
    "OnAccountSuppressionList": ("5.1.1", "address on the account suppression list"),
    "MailboxFull": ("5.2.2", "mailbox full"),
    "MessageTooLarge": ("5.3.4", "message too large"),
    "ContentRejected": ("5.6.0", "message content rejected"),
    "AttachmentRejected": ("5.6.0", "attachment rejected"),
}


@dataclass
class Notification:
    """One provider notification: what it says happened to which recipients."""

    event: str  # bounce, complaint, delivery, delay
    permanent: bool = False
    recipients: list[dict[str, str]] = field(default_factory=list)
    feedback_type: str = ""
    message_id: str = ""  # the provider's id of the message it is about
    # What ties it to the sending-log row: the Message-ID header we wrote, the return
    # path we sent from (both name the row), or the provider's id stored at sending.
    header_ids: list[str] = field(default_factory=list)
    return_paths: list[str] = field(default_factory=list)


def find_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in a text (SNS mail puts a footer after it)."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        # strict=False: a notification delivered by mail may have a line break folded
        # into a long string value, which a strict decoder refuses.
        value, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason
        return None
    return value if isinstance(value, dict) else None


def ses_notification(document: dict[str, Any]) -> Notification | None:
    """Read an SES notification, bare or in its SNS envelope; None if it is not one."""
    if document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        inner = find_json(document["Message"])
        if inner is None:
            return None
        document = inner
    kind = str(document.get("notificationType") or document.get("eventType") or "")
    mail = document.get("mail") if isinstance(document.get("mail"), dict) else {}
    message_id = str(mail.get("messageId", "")) if mail else ""
    notification = _ses_event(document, kind, message_id)
    if notification is not None and mail:
        headers = mail.get("commonHeaders")
        if isinstance(headers, dict) and isinstance(headers.get("messageId"), str):
            notification.header_ids = [headers["messageId"]]
        if isinstance(mail.get("source"), str):
            notification.return_paths = [mail["source"]]
    return notification


def _ses_event(document: dict[str, Any], kind: str, message_id: str) -> Notification | None:
    if kind == "Bounce" and isinstance(document.get("bounce"), dict):
        return _ses_bounce(document["bounce"], message_id)
    if kind == "Complaint" and isinstance(document.get("complaint"), dict):
        complaint = document["complaint"]
        return Notification(
            event="complaint", message_id=message_id,
            feedback_type=str(complaint.get("complaintFeedbackType") or "abuse"),
            recipients=[{"address": _address(r)} for r in _list(complaint,
                                                                 "complainedRecipients")])
    if kind in ("Delivery", "DeliveryDelay"):
        body = document.get("delivery") or document.get("deliveryDelay") or {}
        recipients = body.get("recipients") or body.get("delayedRecipients") or [] \
            if isinstance(body, dict) else []
        return Notification(event="delivery" if kind == "Delivery" else "delay",
                            message_id=message_id,
                            recipients=[{"address": _address(r)} for r in recipients])
    return None


def _ses_bounce(bounce: dict[str, Any], message_id: str) -> Notification:
    bounce_type = str(bounce.get("bounceType", ""))
    subtype = str(bounce.get("bounceSubType", ""))
    fallback_status, fallback_words = SES_SUBTYPES.get(subtype, ("", ""))
    permanent = bounce_type == "Permanent"
    if not permanent and fallback_status.startswith("5."):
        fallback_status = "4." + fallback_status[2:]
    recipients = []
    for recipient in _list(bounce, "bouncedRecipients"):
        status = str(recipient.get("status") or "") if isinstance(recipient, dict) else ""
        diagnostic = (str(recipient.get("diagnosticCode") or "")
                      if isinstance(recipient, dict) else "")
        if not diagnostic:
            diagnostic = fallback_words
        if not status or status.endswith(".0.0"):
            status = fallback_status or status or ("5.0.0" if permanent else "4.0.0")
        recipients.append({"address": _address(recipient), "status": status,
                           "diagnostic": diagnostic,
                           "action": str(recipient.get("action") or "failed")
                           if isinstance(recipient, dict) else "failed"})
    return Notification(event="bounce", permanent=permanent, recipients=recipients,
                        message_id=message_id)


def _list(document: dict[str, Any], name: str) -> list[Any]:
    value = document.get(name)
    return value if isinstance(value, list) else []


def _address(recipient: Any) -> str:
    if isinstance(recipient, str):
        return recipient.strip().lower()
    if isinstance(recipient, dict):
        return str(recipient.get("emailAddress") or "").strip().strip("<>").lower()
    return ""
