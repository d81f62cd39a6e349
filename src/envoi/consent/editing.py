"""Editing one profile by hand (the console): its fields, typed attributes, opt-outs
and static-list membership, checked field by field and audited without the values.

It lives with consent because an opt-out ticked by hand is a withdrawal of consent,
kept with its proof like any other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from envoi.accounts.services import Actor, audit, require
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent.models import Source
from envoi.consent.services import Evidence, withdraw_consent

EDITABLE = ("email", "phone", "first_name", "last_name", "language", "timezone",
            "attributes", "email_opt_out", "sms_opt_out", "is_test")


class ProfileError(ValueError):
    """A value refused; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {error}" for name, error in errors.items()))


@dataclass
class ProfileChange:
    values: dict[str, Any]  # field name -> new value, for the fields in EDITABLE
    lists: set[int] = field(default_factory=set)  # the static lists it belongs to


def check(change: ProfileChange) -> None:
    errors: dict[str, str] = {}
    email = change.values.get("email", "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "not a valid email address"
    zone = change.values.get("timezone", "").strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = "not a time zone name such as Asia/Seoul"
    if not isinstance(change.values.get("attributes", {}), dict):
        errors["attributes"] = "must be a JSON object"
    if errors:
        raise ProfileError(errors)


def edit_profile(user: Actor, profile: Profile, change: ProfileChange) -> Profile:
    """Store the change; opting out of a channel withdraws its consent (with proof)."""
    require(user, "profile.edit")
    check(change)
    values = {name: change.values[name] for name in EDITABLE if name in change.values}
    for name in ("email", "phone", "first_name", "last_name", "language", "timezone"):
        if name in values:
            values[name] = values[name].strip()
    changed = sorted(name for name, value in values.items() if getattr(profile, name) != value)
    with transaction.atomic():
        for channel, flag in (("email", "email_opt_out"), ("sms", "sms_opt_out")):
            if values.get(flag) and not profile.__dict__[flag]:
                withdraw_consent(profile, channel, Evidence(Source.CONSOLE,
                                                            wording="opted out by hand"))
        for name, value in values.items():
            setattr(profile, name, value)
        profile.save()
        _set_lists(profile, change.lists)
        audit(user, "profile.edit", profile=profile.pk, fields=changed)
    return profile


def _set_lists(profile: Profile, wanted: set[int]) -> None:
    static = set(Audience.objects.filter(kind=Audience.LIST).values_list("pk", flat=True))
    wanted &= static
    current = set(AudienceMember.objects.filter(profile=profile, audience_id__in=static)
                  .values_list("audience_id", flat=True))
    AudienceMember.objects.filter(profile=profile,
                                  audience_id__in=current - wanted).delete()
    AudienceMember.objects.bulk_create(
        AudienceMember(profile=profile, audience_id=pk) for pk in wanted - current)
