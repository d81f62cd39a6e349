"""The preference centre: what a recipient chooses for themself, from any message.

It opens with the message's unsubscribe token (``{{ preferences_url }}``, and a link on
the unsubscribe page), so it needs no login, like the RFC 8058 one-click POST. A
recipient may join or leave the public lists, opt in or out of each channel, or
unsubscribe from everything with an optional reason, which is counted for the delivery
the message belonged to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy

from envoi.audiences.models import AudienceMember, Profile
from envoi.consent.models import Channel, Source, UnsubscribeReason
from envoi.consent.services import (
    OPT_OUT_FIELD,
    Evidence,
    count_unsubscription,
    record_consent,
    withdraw_consent,
)
from envoi.consent.subscription import public_lists

WORDING = "preference centre"


@dataclass(frozen=True)
class Choices:
    channels: dict[str, bool]  # channel -> receives marketing
    lists: set[int]  # audience ids of the public lists joined


def current_choices(profile: Profile) -> Choices:
    channels = {str(c): not getattr(profile, OPT_OUT_FIELD[c]) for c in Channel}
    allowed = [p.audience_id for p in public_lists()]
    joined = set(AudienceMember.objects.filter(profile=profile, audience_id__in=allowed)
                 .values_list("audience_id", flat=True))
    return Choices(channels, joined)


def save_choices(profile: Profile, wanted: Choices, evidence: Evidence) -> None:
    """Apply the recipient's choices: each change of channel is a consent move."""
    now = current_choices(profile)
    allowed = {p.audience_id for p in public_lists()}
    with transaction.atomic():
        for channel, receives in wanted.channels.items():
            if channel not in OPT_OUT_FIELD or receives == now.channels[channel]:
                continue
            if receives:
                record_consent(profile, channel, evidence)
            else:
                withdraw_consent(profile, channel, evidence)
        AudienceMember.objects.filter(profile=profile,
                                      audience_id__in=(allowed - wanted.lists)).delete()
        for audience_id in (wanted.lists & allowed) - now.lists:
            AudienceMember.objects.create(audience_id=audience_id, profile=profile)


def unsubscribe_all(profile: Profile, delivery_id: int | None, row_id: int | None,
                    reason: str, evidence: Evidence) -> None:
    """Leave every channel and public list; the reason is counted for the delivery (when
    the page was opened from a message, not from a consent notice)."""
    with transaction.atomic():
        for channel in Channel:
            withdraw_consent(profile, channel, evidence)
        AudienceMember.objects.filter(
            profile=profile, audience_id__in=[p.audience_id for p in public_lists()]
        ).delete()
        if delivery_id is not None and row_id is not None:
            count_unsubscription(delivery_id, row_id, reason)


def evidence_from(ip: str | None, user_agent: str, language: str) -> Evidence:
    return Evidence(Source.LINK, ip=ip, user_agent=user_agent, wording=WORDING,
                    language=language)


REASON_LABELS = {
    UnsubscribeReason.TOO_MANY: gettext_lazy("I receive too many emails"),
    UnsubscribeReason.NOT_RELEVANT: gettext_lazy("The content is not relevant to me"),
    UnsubscribeReason.NEVER_SIGNED_UP: gettext_lazy("I never signed up"),
    UnsubscribeReason.OTHER: gettext_lazy("Another reason"),
}


def reason_choices() -> list[tuple[str, Any]]:
    """The reasons a recipient may give, with labels translated where they are shown."""
    return [(str(reason), label) for reason, label in REASON_LABELS.items()]
