"""From a sending-log row and its profile to the bytes handed to the relay.

A :class:`DeliveryRenderer` is built once per delivery: parsed templates and the MIME
skeleton are reused for every recipient, so the per-message work is the Liquid render
of the personalized parts and one concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from envoi.deliveries.content import PROFILE_FIELDS, compile_content
from envoi.deliveries.models import Delivery
from envoi.sending.mime import MessageSkeleton, format_date, make_message_id
from envoi.tracking import tokens


@dataclass(frozen=True)
class OutgoingMessage:
    row_id: int
    mail_from: str
    rcpt_to: str
    data: bytes
    message_id: str


def profile_context(profile: dict[str, Any]) -> dict[str, Any]:
    context = {field: profile.get(field) or "" for field in PROFILE_FIELDS}
    context["attributes"] = profile.get("attributes") or {}
    return context


class DeliveryRenderer:
    def __init__(self, delivery: Delivery, subject_prefix: str = ""):
        self.delivery_id = delivery.pk
        self.subject_prefix = subject_prefix
        self.content = compile_content(delivery.subject, delivery.html_body,
                                       delivery.text_body)
        self.skeleton = MessageSkeleton(
            sender=delivery.sender, reply_to=delivery.reply_to,
            has_html=self.content.html is not None, has_text=self.content.text is not None,
            extra_headers={"X-Envoi-Delivery": str(delivery.pk)},
        )

    def render(self, row_id: int, address: str, profile: dict[str, Any],
               unsubscribe_url: str | None = None,
               message_key: str | None = None) -> OutgoingMessage:
        unsubscribe_url = unsubscribe_url or tokens.unsubscribe_url(row_id)
        context = profile_context(profile)
        context["unsubscribe_url"] = unsubscribe_url
        content = self.content
        # One Message-ID per sending-log row, stable across a crash-induced resend.
        message_id = make_message_id(message_key or f"{self.delivery_id}.{row_id}.envoi",
                                     settings.ENVOI_BOUNCE_DOMAIN)
        data = self.skeleton.build(
            to_addr=address,
            to_name=" ".join(filter(None, [context["first_name"], context["last_name"]])),
            subject=self.subject_prefix + content.subject.render(**context),
            html=content.html.render(**context) if content.html else "",
            text=content.text.render(**context) if content.text else "",
            message_id=message_id,
            date=format_date(),
            list_unsubscribe=f"<{unsubscribe_url}>",
        )
        return OutgoingMessage(row_id=row_id, mail_from=tokens.return_path(row_id),
                               rcpt_to=address, data=data, message_id=message_id)
