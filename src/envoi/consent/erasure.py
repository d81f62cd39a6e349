"""Erasure and export of one person's data (GDPR art. 15 and 17, PIPA, APPI).

:func:`erase_profile` removes everything that identifies the person and keeps what the
ledger needs to stay true:

* the profile row stays, emptied (no address, name, attributes), so its sending-log
  and tracking rows still count in the KPIs of past deliveries — they become rows of
  nobody in particular;
* addresses and browser strings are blanked in the sending, exclusion and tracking
  logs; quarantine standings, captured messages and received bounces that name the
  address are removed or blanked; audit and proof entries that mention it are
  rewritten with ``[erased]``;
* the address survives only as a keyed hash in the suppression list
  (:mod:`envoi.consent.hashing`), so a later import of it stays unsendable until the
  person consents again;
* the erasure is audited under the profile's number, never its address.

The whole erasure is one transaction: it happens entirely, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Model, Q, TextField
from django.db.models.functions import Cast, Lower, Trim

from envoi import clock
from envoi.accounts.models import AuditEntry
from envoi.accounts.services import Actor, audit
from envoi.audiences.models import AudienceMember, Profile
from envoi.bounces.models import InboundMessage, Quarantine, QuarantineEvent
from envoi.consent import hashing
from envoi.consent.models import (
    Channel,
    Consent,
    ConsentNotice,
    Erasure,
    Suppression,
    Unsubscription,
)
from envoi.consent.services import _require, consents_of
from envoi.deliveries.models import Delivery, Proof
from envoi.preparation.models import ExclusionLog
from envoi.sending.models import FailureType, OutboxMessage, SendingLog, SendStatus
from envoi.tracking.models import TrackingEvent

ERASED = "[erased]"


class AlreadyErased(ValueError):
    """The profile was erased before; there is nothing left to erase."""


@dataclass(frozen=True)
class ErasureReport:
    profile_id: int
    suppressed: list[str]  # channels whose address went into the suppression list
    messages: int  # sending-log rows kept as anonymous rows


def is_erased(profile: Profile) -> bool:
    return Erasure.objects.filter(profile_id=profile.pk).exists()


def erase_profile(user: Actor, profile: Profile) -> ErasureReport:
    """Erase ``profile`` (see the module docstring); :class:`AlreadyErased` if it was."""
    _require(user, "consent.erase")
    if is_erased(profile):
        raise AlreadyErased(f"Profile {profile.pk} was already erased.")
    with transaction.atomic():
        addresses: dict[str, str] = {Channel.EMAIL: profile.email.strip(),
                                     Channel.SMS: profile.phone.strip()}
        suppressed = _suppress(addresses)
        messages = _anonymize_logs(profile, addresses[Channel.EMAIL])
        for address in filter(None, addresses.values()):
            _forget_address(address)
        Consent.objects.filter(profile_id=profile.pk).delete()  # events cascade
        AudienceMember.objects.filter(profile_id=profile.pk).delete()
        Profile.objects.filter(pk=profile.pk).update(
            email="", phone="", first_name="", last_name="", language="", timezone="",
            attributes={}, email_opt_out=True, sms_opt_out=True, is_test=False,
            updated_at=clock.now())
        Erasure.objects.create(profile_id=profile.pk, at=clock.now())
        audit(user, "profile.erase", profile=profile.pk, suppressed=suppressed)
    profile.refresh_from_db()
    return ErasureReport(profile.pk, suppressed, messages)


def _suppress(addresses: dict[str, str]) -> list[str]:
    channels = []
    for channel, address in addresses.items():
        if address:
            Suppression.objects.get_or_create(
                channel=channel, address_hash=hashing.address_hash(address),
                defaults={"created_at": clock.now()})
            channels.append(str(channel))
    return channels


def _anonymize_logs(profile: Profile, email: str) -> int:
    """Blank what identifies the person in the logs; keep every row and its status
    (a message still waiting to go is not sent: it is ignored, reason ``erased``)."""
    SendingLog.objects.filter(profile_id=profile.pk, status=SendStatus.PENDING).update(
        status=SendStatus.IGNORED, failure_type=FailureType.IGNORED, failure_reason="erased",
        next_attempt_at=None, lease_until=None, updated_at=clock.now())
    messages = SendingLog.objects.filter(profile_id=profile.pk).update(
        address="", smtp_reply="")
    ExclusionLog.objects.filter(profile_id=profile.pk).update(address="")
    events = TrackingEvent.objects.filter(profile_id=profile.pk)
    events.update(user_agent="")
    if email:  # a personalized link may have carried the address
        events.filter(Q(url__icontains=email) | Q(url__icontains=email.replace("@", "%40"))
                      ).update(url="")
    rows = SendingLog.objects.filter(profile_id=profile.pk).values("pk")
    InboundMessage.objects.filter(row_id__in=rows).update(
        address="", raw=b"", subject="", rcpt_to=[], mail_from="", diagnostic="", error="")
    return messages


def _forget_address(address: str) -> None:
    """Remove or blank the rows keyed by the address itself."""
    key = hashing.normalize(address)
    Quarantine.objects.annotate(key=Lower(Trim("address"))).filter(key=key).delete()
    QuarantineEvent.objects.annotate(key=Lower(Trim("address"))).filter(key=key).delete()
    InboundMessage.objects.filter(address__iexact=key).update(
        address="", raw=b"", subject="", rcpt_to=[], mail_from="", diagnostic="", error="")
    _mentioning(OutboxMessage, "rcpt_to", key).delete()
    for entry in _mentioning(AuditEntry, "detail", key):
        entry.detail = _scrub(entry.detail, key)
        entry.save(update_fields=["detail"])
    for proof in _mentioning(Proof, "recipients", key):
        proof.recipients = _scrub(proof.recipients, key)
        proof.save(update_fields=["recipients"])


def _mentioning(model: type[Model], field: str, text: str) -> Any:
    """The rows whose JSON ``field`` contains ``text`` anywhere (any case)."""
    return model._default_manager.annotate(
        as_text=Cast(field, TextField())).filter(as_text__icontains=text)


def _scrub(value: Any, address: str) -> Any:
    """``value`` with every string that mentions ``address`` replaced by ``[erased]``."""
    if isinstance(value, str):
        return ERASED if address in value.lower() else value
    if isinstance(value, list):
        return [_scrub(item, address) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, address) for key, item in value.items()}
    return value


# -- export --------------------------------------------------------------------------

PROFILE_FIELDS = ("id", "email", "phone", "first_name", "last_name", "language",
                  "timezone", "attributes", "email_opt_out", "sms_opt_out", "is_test",
                  "created_at", "updated_at")


def export_profile(user: Actor, profile: Profile) -> dict[str, Any]:
    """Everything Envoi holds about the person, as JSON-ready data (audited)."""
    _require(user, "consent.export")
    rows: list[dict[str, Any]] = [dict(row) for row in (
        SendingLog.objects.filter(profile_id=profile.pk).order_by("id").values(
            "id", "delivery_id", "address", "status", "failure_type", "failure_reason",
            "attempts", "sent_at", "variant"))]
    labels = dict(Delivery.objects.filter(pk__in={r["delivery_id"] for r in rows})
                  .values_list("pk", "label"))
    for row in rows:
        row["delivery"] = labels.get(row["delivery_id"], "")
    data = {
        "profile": {name: getattr(profile, name) for name in PROFILE_FIELDS},
        "lists": list(AudienceMember.objects.filter(profile_id=profile.pk)
                      .values_list("audience__name", flat=True).order_by("audience__name")),
        "consents": consents_of(profile),
        "consent_notices": list(ConsentNotice.objects.filter(
            consent__profile_id=profile.pk).order_by("id").values(
            "consent__channel", "kind", "status", "due_at", "sent_at", "language")),
        "messages": rows,
        "exclusions": list(ExclusionLog.objects.filter(profile_id=profile.pk)
                           .values("delivery_id", "address", "reason").order_by("id")),
        "tracking": list(TrackingEvent.objects.filter(profile_id=profile.pk).order_by("id")
                         .values("delivery_id", "kind", "url", "at", "user_agent")),
        "unsubscriptions": list(Unsubscription.objects.filter(
            row_id__in=[r["id"] for r in rows]).values("delivery_id", "reason", "at")),
        "quarantine": list(Quarantine.objects.filter(
            address=hashing.normalize(profile.email)).values(
            "channel", "status", "reason", "error_count", "status_changed_at"))
        if profile.email else [],
        "erased": is_erased(profile),
    }
    audit(user, "profile.export", profile=profile.pk)
    return data
