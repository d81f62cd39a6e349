"""Editing one profile by hand (the console, and ``PATCH /api/v1/profiles/{id}``): its
fields, typed attributes, opt-outs and static-list membership, checked field by field
(each refusal in the reader's language, on its field) and audited without the values.

Both faces call :func:`edit_profile`, which checks ``profile.edit``. It lives with
consent because an opt-out ticked by hand is a withdrawal of consent, kept with its
proof like any other. An erased profile cannot be edited: editing would bring personal
data back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from envoi.accounts.services import Actor, audit, require
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent.erasure import is_erased
from envoi.consent.models import Source
from envoi.consent.services import Evidence, withdraw_consent

EDITABLE = ("email", "phone", "first_name", "last_name", "language", "timezone",
            "attributes", "email_opt_out", "sms_opt_out", "is_test")


TEXTS = ("email", "phone", "first_name", "last_name", "language", "timezone")
FLAGS = ("email_opt_out", "sms_opt_out", "is_test")
MAX_LENGTHS = {name: getattr(Profile._meta.get_field(name), "max_length", 0) or 0
               for name in TEXTS}


class ProfileError(ValueError):
    """A value refused; ``errors`` maps each field to what is wrong with it, in the
    active language."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {error}" for name, error in errors.items()))


class ProfileErased(ValueError):
    """The profile was erased: there is nothing left to edit."""


@dataclass
class ProfileChange:
    values: dict[str, Any]  # field name -> new value, for the fields in EDITABLE
    # Every static list it belongs to afterwards (it leaves the others); None: unchanged.
    lists: set[int] | None = None


def check(change: ProfileChange) -> None:
    """Every refusal of ``change`` at once, field by field (:class:`ProfileError`)."""
    errors: dict[str, str] = {}
    for name in TEXTS:
        _check_text(name, change.values.get(name, ""), errors)
    for name in FLAGS:
        if not isinstance(change.values.get(name, False), bool):
            errors[name] = _("Must be true or false.")
    if not isinstance(change.values.get("attributes", {}), dict):
        errors["attributes"] = _("Attributes must be a JSON object.")
    if change.lists:
        storable = [pk for pk in change.lists if 0 < pk < 2**63]  # else no query
        static = set(Audience.objects.filter(kind=Audience.LIST, pk__in=storable)
                     .values_list("pk", flat=True))
        unknown = sorted(change.lists - static)
        if unknown:
            errors["lists"] = _("No static list has the id %(ids)s.") % {
                "ids": ", ".join(map(str, unknown))}
    if errors:
        raise ProfileError(errors)


def _check_text(name: str, value: Any, errors: dict[str, str]) -> None:
    if not isinstance(value, str):
        errors[name] = _("Must be text.")
        return
    value = value.strip()
    longest = MAX_LENGTHS[name]
    if len(value) > longest:
        errors[name] = _("At most %(count)d characters.") % {"count": longest}
    elif name == "email" and value:
        try:
            validate_email(value)
        except ValidationError:
            errors[name] = _("Enter a valid email address.")
    elif name == "timezone" and value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            errors[name] = _("Enter a time zone name such as Asia/Seoul.")


def edit_profile(user: Actor, profile: Profile, change: ProfileChange) -> Profile:
    """Store the change; opting out of a channel withdraws its consent (with proof).
    Raises :class:`ProfileError` (nothing stored) or :class:`ProfileErased`."""
    require(user, "profile.edit")
    if is_erased(profile):
        raise ProfileErased(_("This profile was erased: it cannot be edited."))
    check(change)
    values = {name: change.values[name] for name in EDITABLE if name in change.values}
    for name in TEXTS:
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
        if change.lists is not None and _set_lists(profile, change.lists):
            changed.append("lists")
        audit(user, "profile.edit", profile=profile.pk, fields=changed)
    return profile


def _set_lists(profile: Profile, wanted: set[int]) -> bool:
    """Make the profile's static lists exactly ``wanted``; True if that changed any."""
    static = set(Audience.objects.filter(kind=Audience.LIST).values_list("pk", flat=True))
    wanted = wanted & static
    current = set(AudienceMember.objects.filter(profile=profile, audience_id__in=static)
                  .values_list("audience_id", flat=True))
    AudienceMember.objects.filter(profile=profile,
                                  audience_id__in=current - wanted).delete()
    AudienceMember.objects.bulk_create(
        AudienceMember(profile=profile, audience_id=pk) for pk in wanted - current)
    return wanted != current
