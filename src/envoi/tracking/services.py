"""Recipient-facing actions reached through signed links."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from envoi.accounts.services import audit
from envoi.audiences.models import Profile
from envoi.sending.models import SendingLog
from envoi.tracking import tokens


@dataclass(frozen=True)
class UnsubscribeTarget:
    row_id: int
    delivery_id: int
    profile_id: int
    address: str


def unsubscribe_target(token: str) -> UnsubscribeTarget:
    """The sending-log row a token names; :class:`tokens.BadToken` if it names none."""
    (row_id,) = tokens.unsign("unsubscribe", token)
    row = SendingLog.objects.filter(pk=row_id).values(
        "delivery_id", "profile_id", "address").first()
    if row is None:
        raise tokens.BadToken("unknown message")
    return UnsubscribeTarget(row_id, row["delivery_id"], row["profile_id"], row["address"])


@transaction.atomic
def unsubscribe(target: UnsubscribeTarget, one_click: bool) -> None:
    """Opt the profile out of email (SPEC §7). Idempotent; every request is audited."""
    Profile.objects.filter(pk=target.profile_id).update(email_opt_out=True)
    audit(None, "profile.unsubscribe", delivery_id=target.delivery_id,
          profile=target.profile_id, row=target.row_id, one_click=one_click)
