"""The subscription form and its double opt-in (SPEC §13).

1. A person fills in the hosted form (or an embedded copy, which posts to the hosted
   page for a confirmation there, under its CSRF token). Bots are turned away by a
   honeypot field and a signed timestamp: a form sent back faster than any person could
   fill it in (``ENVOI_SUBSCRIBE_MIN_SECONDS``), or with an altered or day-old stamp, is
   refused.
2. :func:`subscribe` finds the profile by address (or makes one), asks for consent
   (pending, with the wording shown, the IP address and the browser) and mails a
   confirmation in the person's language, through the normal relay, holding a signed
   link valid ``ENVOI_CONFIRM_DAYS``. Posts per client address and confirmations per
   email address are limited per hour (:mod:`envoi.consent.ratelimit`).
3. :func:`confirm` — the person pressed the button behind that link — grants consent
   and adds the lists they chose. A mail scanner that merely opens the link changes
   nothing: confirming is a POST from the page.

The answer to the form never says whether the address was known.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower, Trim
from django.utils import translation
from django.utils.translation import gettext as _

from envoi import clock
from envoi.audiences.models import AudienceMember, Profile
from envoi.config import smtp_from_url
from envoi.consent import lifecycle, ratelimit
from envoi.consent.models import Consent, PublicList, Purpose
from envoi.consent.pages import brand
from envoi.consent.services import Evidence, confirm_consent, request_consent
from envoi.sending.smtp import SmtpConnection

log = logging.getLogger("envoi.consent")

STAMP_SALT = "envoi.consent.form"
CONFIRM_SALT = "envoi.consent.confirm"
STAMP_MAX_AGE = 86_400  # a form left open a whole day is filled in again


class SubscriptionError(ValueError):
    """The form cannot be accepted; ``field`` names where (``""``: the whole form)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class BadLink(ValueError):
    """A confirmation link that was altered, has expired, or names no profile now."""


@dataclass(frozen=True)
class Signup:
    email: str
    first_name: str = ""
    lists: tuple[int, ...] = ()
    language: str = "en"


# -- the form's protection --------------------------------------------------------------

def form_stamp() -> str:
    """A signed timestamp for a freshly shown form."""
    return signing.TimestampSigner(salt=STAMP_SALT).sign("form")


def check_human(stamp: str, honeypot: str) -> None:
    """Refuse a form filled in by a robot (see the module docstring)."""
    refused = SubscriptionError("", _("The form could not be accepted. Please fill it in "
                                      "again."))
    if honeypot:
        raise refused
    signer = signing.TimestampSigner(salt=STAMP_SALT)
    try:
        signer.unsign(stamp, max_age=STAMP_MAX_AGE)
        signer.unsign(stamp, max_age=timedelta(seconds=settings.ENVOI_SUBSCRIBE_MIN_SECONDS))
    except signing.SignatureExpired:
        return  # older than the minimum: a person's pace
    except signing.BadSignature as error:
        raise refused from error
    raise refused  # younger than the minimum fill time


def public_lists() -> list[PublicList]:
    return list(PublicList.objects.select_related("audience").order_by("title"))


# -- subscribe and confirm --------------------------------------------------------------

def subscribe(signup: Signup, evidence: Evidence) -> None:
    """Ask for the address's consent and mail the confirmation link."""
    address = signup.email.strip()
    try:
        validate_email(address)
    except ValidationError as error:
        raise SubscriptionError("email", _("Enter a valid email address.")) from error
    allowed = {p.audience_id for p in public_lists()}
    lists = tuple(sorted(set(signup.lists) & allowed))
    # Counted before anything is stored: past the limit, nothing is recorded or sent
    # (ratelimit.RateLimited), whether the address is known or not.
    ratelimit.take_recipient(address)
    with transaction.atomic():
        profile = _profile_for(address, signup)
        request_consent(profile, "email", evidence)
    send_confirmation(profile, lists, signup.language)


def _profile_for(address: str, signup: Signup) -> Profile:
    key = address.lower()
    profile = (Profile.objects.annotate(key=Lower(Trim("email"))).filter(key=key)
               .order_by("id").first())
    if profile is None:
        return Profile.objects.create(email=address, first_name=signup.first_name[:150],
                                      language=signup.language)
    if not profile.language:
        Profile.objects.filter(pk=profile.pk).update(language=signup.language)
        profile.language = signup.language
    return profile


def confirmation_link(profile: Profile, lists: tuple[int, ...]) -> str:
    token = signing.dumps({"p": profile.pk, "l": list(lists)}, salt=CONFIRM_SALT,
                          compress=True)
    return f"{settings.ENVOI_BASE_URL}/subscribe/confirm/{token}"


def read_link(token: str) -> tuple[Profile, list[int]]:
    """The profile and lists a confirmation link names; :class:`BadLink` otherwise."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT,
                             max_age=timedelta(days=settings.ENVOI_CONFIRM_DAYS))
        profile = Profile.objects.get(pk=int(data["p"]))
        lists = [int(pk) for pk in data["l"]]
    except (signing.BadSignature, Profile.DoesNotExist, KeyError, TypeError, ValueError,
            OverflowError) as error:
        raise BadLink(str(error)) from error
    if not profile.email:  # erased since
        raise BadLink("profile has no address")
    return profile, lists


def confirm(token: str, evidence: Evidence) -> Profile:
    """Grant the consent a confirmation link asked for; :class:`BadLink` if it cannot."""
    profile, lists = read_link(token)
    allowed = {p.audience_id for p in public_lists()}
    with transaction.atomic():
        try:
            confirm_consent(profile, "email", evidence)
        except lifecycle.InvalidTransition as error:  # withdrawn since it was asked
            raise BadLink(str(error)) from error
        for audience_id in set(lists) & allowed:
            AudienceMember.objects.get_or_create(audience_id=audience_id, profile=profile)
    return profile


def is_pending(profile: Profile) -> bool:
    return Consent.objects.filter(profile_id=profile.pk, channel="email",
                                  purpose=Purpose.MARKETING,
                                  status__in=["pending", "granted"]).exists()


# -- the confirmation mail ----------------------------------------------------------------

def confirmation_message(profile: Profile, lists: tuple[int, ...], language: str
                         ) -> EmailMessage:
    sender = brand()
    with translation.override(language):
        message = EmailMessage()
        message["Subject"] = _("Confirm your subscription to %(brand)s") % {
            "brand": sender.name}
        message["From"] = email.utils.formataddr((sender.name,
                                                  settings.ENVOI_CONFIRM_MAIL_FROM))
        message["To"] = profile.email
        message["Date"] = email.utils.format_datetime(clock.now())
        message["Message-ID"] = email.utils.make_msgid(
            domain=settings.ENVOI_CONFIRM_MAIL_FROM.rpartition("@")[2] or None)
        message["Content-Language"] = language
        body = _("Hello,\n\nPlease confirm that you want to receive email from %(brand)s "
                 "by opening this link:\n\n%(link)s\n\nIf you did not ask for this, ignore "
                 "this message: you will receive nothing more.") % {
            "brand": sender.name, "link": confirmation_link(profile, lists)}
        footer = "\n".join(sender.footer_lines)
        message.set_content(f"{body}\n\n-- \n{footer}\n" if footer else f"{body}\n")
    return message


def send_confirmation(profile: Profile, lists: tuple[int, ...], language: str) -> bool:
    """Mail the confirmation through the relay; False (and logged) if it refused."""
    message = confirmation_message(profile, lists, language)
    connection = SmtpConnection.from_config(smtp_from_url(settings.ENVOI_SMTP_URL))
    try:
        outcome = connection.send(settings.ENVOI_CONFIRM_MAIL_FROM, profile.email,
                                  message.as_bytes(policy=email.policy.SMTP))
    finally:
        connection.close()
    if not outcome.ok:
        log.warning("confirmation to profile %s refused: %s %s", profile.pk,
                    outcome.code, outcome.text)
    return outcome.ok
