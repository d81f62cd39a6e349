"""Proofs (SPEC §2): the prepared message, sent to the test profiles or typed addresses.

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
from envoi.content.language import variant_of
from envoi.deliveries.liquid import PersonalizationError
from envoi.deliveries.models import Delivery, Proof
from envoi.deliveries.services import DeliveryError
from envoi.sending.render import OutgoingMessage
from envoi.sending.smtp import SmtpConnection
from envoi.sending.variants import VariantRenderer


class ProofError(ValueError):
    """A proof that cannot be sent as asked; the message says why."""


class NoTestProfiles(ProofError):
    pass


class ProofNotRendered(DeliveryError):
    """A recipient's proof cannot be made: no proof is sent, and the faces answer with
    the error's field, line and column (the API: 400)."""


Recipient = tuple[str, dict[str, Any]]  # the address, and the profile it is rendered as


def send_proof(delivery: Delivery, addresses: list[str] | None = None,
               language: str | None = None, profile_id: int | None = None,
               test_profile_ids: list[int] | None = None) -> dict[str, Any]:
    """Send a proof to the test profiles, or to the chosen ones (``test_profile_ids``)
    and/or ``addresses`` typed by hand.

    Each test profile receives it as itself, in its own variant; with ``profile_id``
    every recipient receives it rendered as that profile, and ``language`` chooses the
    variant for all of them. Every message is rendered before any is sent, so a proof
    that cannot be rendered sends nothing and takes no number.
    """
    recipients = _recipients(addresses, profile_id, test_profile_ids)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(proof_count=F("proof_count") + 1)
        delivery.refresh_from_db(fields=["proof_count"])
        number = delivery.proof_count
        messages = _render_all(delivery, number, recipients, language)
    connection = SmtpConnection.from_config(smtp_from_url(settings.ENVOI_SMTP_URL))
    results = []
    try:
        for (address, _profile), (variant, message) in zip(recipients, messages,
                                                          strict=True):
            reply = connection.send(settings.ENVOI_PROOF_MAIL_FROM, address, message.data)
            results.append({"address": address, "ok": reply.ok, "variant": variant,
                            "reply": f"{reply.code} {reply.text}".strip()})
    finally:
        connection.close()
    Proof.objects.create(delivery=delivery, number=number, recipients=results)
    return {"number": number, "recipients": results}


def _recipients(addresses: list[str] | None, profile_id: int | None,
                test_profile_ids: list[int] | None = None) -> list[Recipient]:
    persona = _profile(profile_id) if profile_id is not None else None
    chosen = [(p["email"], persona or dict(p)) for p in _test_profiles(test_profile_ids)]
    typed = [(address, persona or {"email": address}) for address in addresses or []]
    if chosen or typed:
        return chosen + typed
    profiles = list(Profile.objects.filter(is_test=True).exclude(email="")
                    .order_by("id").values())
    if not profiles:
        raise NoTestProfiles("There are no test profiles to send a proof to: "
                             "mark at least one profile as a test profile.")
    return [(p["email"], persona or dict(p)) for p in profiles]


def _render_all(delivery: Delivery, number: int, recipients: list[Recipient],
                language: str | None) -> list[tuple[str, OutgoingMessage]]:
    """Every recipient's proof and its variant, rendered before any is sent."""
    try:
        renderer = VariantRenderer(delivery, subject_prefix=f"[Proof {number}] ")
    except PersonalizationError as error:
        raise ProofNotRendered(f"The proof cannot be rendered: {error}") from error
    messages = []
    for index, (address, profile) in enumerate(recipients):
        variant = language if language is not None else variant_of(
            profile.get("language") or "", list(renderer.renderers))
        try:
            messages.append((variant, renderer.render(
                0, address, profile, unsubscribe_url=f"{settings.ENVOI_BASE_URL}/u/proof",
                message_key=f"{delivery.pk}.proof{number}.{index}.envoi", variant=variant)))
        except PersonalizationError as error:
            raise ProofNotRendered(
                f"The proof for {address} cannot be rendered: {error}") from error
    return messages


def _test_profiles(ids: list[int] | None) -> list[dict[str, Any]]:
    """The chosen test profiles, each to receive the proof as itself."""
    if not ids:
        return []
    found = [dict(profile) for profile in Profile.objects.filter(
        pk__in=ids, is_test=True).exclude(email="").order_by("id").values()]
    missing = sorted(set(ids) - {profile["id"] for profile in found})
    if missing:
        raise ProofError(f"test_profile_ids: profile {missing[0]} is not a test profile "
                         "with an email address.")
    return found


def _profile(profile_id: int) -> dict[str, Any]:
    found = Profile.objects.filter(pk=profile_id).values().first()
    if found is None:
        raise ProofError(f"profile_id: profile {profile_id} does not exist.")
    return dict(found)
