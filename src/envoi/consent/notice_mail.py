"""The mail of a consent notice (:mod:`envoi.consent.notices`), in the profile's language.

Each states the sender, the address, the date of the consent (or of its withdrawal) and
how to change it: a signed link to the preference centre that works without a message
row (``/p/<token>``, :func:`preferences_url`). It ends with the brand's legal footer
(:attr:`envoi.consent.brand.Brand.legal_lines`: the footer set in Administration →
Brand or ``ENVOI_BRAND_FOOTER``; without one, the brand's name, postal address and
contact).
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from envoi import clock
from envoi.audiences.models import Profile
from envoi.consent.models import NoticeKind
from envoi.consent.pages import brand, supported
from envoi.tracking import tokens

PREFERENCES_PURPOSE = "preferences"


def preferences_url(profile_id: int) -> str:
    """The preference centre of one profile, outside any message."""
    return f"{settings.ENVOI_BASE_URL}/p/{tokens.sign(PREFERENCES_PURPOSE, profile_id)}"


def profile_of_link(token: str) -> int:
    """The profile id a :func:`preferences_url` token names (:class:`tokens.BadToken`)."""
    (profile_id,) = tokens.unsign(PREFERENCES_PURPOSE, token)
    return profile_id


def local_date(moment: datetime, profile: Profile) -> str:
    try:
        zone = ZoneInfo(profile.timezone) if profile.timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d")


def _subject(kind: str, name: str) -> str:
    if kind == NoticeKind.RECONFIRM:
        return _("%(brand)s: please confirm you still want our advertising") % {
            "brand": name}
    if kind == NoticeKind.GRANTED:
        return _("%(brand)s: your consent to advertising was recorded") % {"brand": name}
    return _("%(brand)s: your refusal of advertising was recorded") % {"brand": name}


def _body(kind: str, values: dict[str, str]) -> str:
    if kind == NoticeKind.RECONFIRM:
        return _("Hello,\n\nOn %(date)s you agreed to receive advertising email from "
                 "%(brand)s at %(address)s. We confirm this with you every two years, "
                 "as the law requires.\n\nTo keep receiving it, you need do nothing. To "
                 "stop receiving it, or to change your choices, open this link:\n\n"
                 "%(link)s") % values
    if kind == NoticeKind.GRANTED:
        return _("Hello,\n\nOn %(date)s you agreed to receive advertising email from "
                 "%(brand)s at %(address)s. This message confirms it.\n\nYou can "
                 "withdraw your consent at any time, free of charge, with this link:\n\n"
                 "%(link)s") % values
    return _("Hello,\n\nOn %(date)s you refused further advertising email from "
             "%(brand)s at %(address)s. This message confirms it: we send you no more "
             "advertising at this address.\n\nTo change your choices later, open this "
             "link:\n\n%(link)s") % values


def footer_lines() -> list[str]:
    sender = brand()
    return list(sender.legal_lines) or [line for line in (sender.name,) if line.strip()]


def notice_message(profile: Profile, kind: str, date: datetime
                   ) -> tuple[EmailMessage, str]:
    """The notice of ``kind`` about the consent given (or withdrawn) at ``date``, and the
    language it is written in."""
    language = supported(profile.language) or "en"
    sender = brand()
    with translation.override(language):
        message = EmailMessage()
        message["Subject"] = _subject(kind, sender.name)
        message["From"] = email.utils.formataddr(
            (sender.name, settings.ENVOI_CONSENT_NOTICE_MAIL_FROM))
        message["To"] = profile.email
        message["Date"] = email.utils.format_datetime(clock.now())
        message["Message-ID"] = email.utils.make_msgid(
            domain=settings.ENVOI_CONSENT_NOTICE_MAIL_FROM.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        body = _body(kind, {"date": local_date(date, profile), "brand": sender.name,
                            "address": profile.email,
                            "link": preferences_url(profile.pk)})
        footer = "\n".join(footer_lines())
        message.set_content(f"{body}\n\n-- \n{footer}\n" if footer else f"{body}\n")
    message["Content-Language"] = language  # after set_content, which clears Content-*
    return message, language
