"""Proofs (SPEC §2): the prepared message, sent to the test profiles only.

Proofs go out at once over their own connection and are kept in the ``Proof`` table,
outside the sending log, so they never count in a delivery's KPIs.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from envoi.audiences.models import Profile
from envoi.config import smtp_from_url
from envoi.deliveries.liquid import PersonalizationError
from envoi.deliveries.models import Delivery, Proof
from envoi.deliveries.services import DeliveryError
from envoi.sending.render import DeliveryRenderer, OutgoingMessage
from envoi.sending.smtp import SmtpConnection


class NoTestProfiles(ValueError):
    pass


class ProofNotRendered(DeliveryError):
    """A test profile's message cannot be made: no proof is sent, and the faces answer
    with the error's field, line and column (the API: 400)."""


def send_proof(delivery: Delivery) -> dict[str, Any]:
    profiles = list(Profile.objects.filter(is_test=True).exclude(email="")
                    .order_by("id").values())
    if not profiles:
        raise NoTestProfiles("There are no test profiles to send a proof to: "
                             "mark at least one profile as a test profile.")
    with transaction.atomic():  # a proof that cannot be rendered takes no number
        Delivery.objects.filter(pk=delivery.pk).update(proof_count=F("proof_count") + 1)
        delivery.refresh_from_db(fields=["proof_count"])
        number = delivery.proof_count
        messages = _render_all(delivery, number, profiles)
    connection = SmtpConnection.from_config(smtp_from_url(settings.ENVOI_SMTP_URL))
    results = []
    try:
        for profile, message in zip(profiles, messages, strict=True):
            reply = connection.send(settings.ENVOI_PROOF_MAIL_FROM, profile["email"],
                                    message.data)
            results.append({"address": profile["email"], "ok": reply.ok,
                            "reply": f"{reply.code} {reply.text}".strip()})
    finally:
        connection.close()
    Proof.objects.create(delivery=delivery, number=number, recipients=results)
    return {"number": number, "recipients": results}


def _render_all(delivery: Delivery, number: int, profiles: list[Any],
                ) -> list[OutgoingMessage]:
    """Every test profile's proof, rendered before any is sent."""
    try:
        renderer = DeliveryRenderer(delivery, subject_prefix=f"[Proof {number}] ")
    except Exception as error:
        raise ProofNotRendered(f"The proof cannot be rendered: {error}") from error
    messages = []
    for profile in profiles:
        try:
            messages.append(renderer.render(
                0, profile["email"], dict(profile),
                unsubscribe_url=f"{settings.ENVOI_BASE_URL}/u/proof",
                message_key=f"{delivery.pk}.proof{number}.{profile['id']}.envoi"))
        except PersonalizationError as error:
            raise ProofNotRendered(
                f"The proof for test profile {profile['email']} cannot be rendered: "
                f"{error}") from error
    return messages
