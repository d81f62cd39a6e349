"""The sender's brand: name, logo, accent colour, legal footer, postal address and
contact for enquiries. Recipient pages and the confirmation and consent notice mails
wear it; the Korean and Japanese advertising rules (:mod:`envoi.preparation.rules`)
check messages against it and their one-click footer fix writes it in. :func:`brand`
is the one reader: nothing else reads the ``ENVOI_BRAND_*`` settings.

Administrators set it in the console (**Administration → Brand**, permission
``brand.manage``); it is stored in one row (:class:`~envoi.consent.models.BrandSettings`),
so every process sees a change at once. What the row leaves empty comes from the
environment, read at start:

``ENVOI_BRAND_NAME``       the sender's name, in the page header and confirmation mail;
``ENVOI_BRAND_LOGO_URL``   an ``https://`` image shown above it (an uploaded logo wins);
``ENVOI_BRAND_COLOR``      the accent colour, ``#rgb`` or ``#rrggbb``;
``ENVOI_BRAND_FOOTER``     the legal footer; ``\\n`` breaks lines;
``ENVOI_BRAND_ADDRESS``    the sender's postal address (Japan's law asks for it);
``ENVOI_BRAND_CONTACT``    the contact for enquiries: telephone, address or web page.

A logo is uploaded through the image service (:mod:`envoi.content.images`): checked by
its bytes, stored where every image is, served at its public ``/i/…`` URL. Reading the
brand costs one primary-key query; if the database cannot answer, the pages still
render with the environment's brand (a recipient page never answers 500).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from envoi import clock
from envoi.accounts.services import Actor, audit, require
from envoi.consent.models import BrandSettings

log = logging.getLogger("envoi.consent")

DEFAULT_COLOR = "#1d4ed8"
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_NAME = 200
MAX_FOOTER = 2000
MAX_ADDRESS = 300
MAX_CONTACT = 200
ROW = 1


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    color: str
    footer_lines: tuple[str, ...]
    address: str = ""
    contact: str = ""

    @property
    def footer(self) -> str:
        return "\n".join(self.footer_lines)

    @property
    def legal_lines(self) -> tuple[str, ...]:
        """The legal footer as written; without one, the name, postal address and
        contact (nothing when neither address nor contact is known: a bare name says
        nothing the page header does not)."""
        if self.footer_lines:
            return self.footer_lines
        if not (self.address or self.contact):
            return ()
        return tuple(part for part in (self.name, self.address, self.contact) if part)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.replace("\\n", "\n").splitlines()
                 if line.strip())


def from_environment() -> Brand:
    """The brand the ``ENVOI_BRAND_*`` variables describe: the defaults."""
    color = settings.ENVOI_BRAND_COLOR
    logo = settings.ENVOI_BRAND_LOGO_URL
    return Brand(name=settings.ENVOI_BRAND_NAME,
                 logo_url=logo if logo.startswith(("https://", "http://")) else "",
                 color=color if COLOR.match(color) else DEFAULT_COLOR,
                 footer_lines=_lines(settings.ENVOI_BRAND_FOOTER),
                 address=settings.ENVOI_BRAND_ADDRESS.strip(),
                 contact=settings.ENVOI_BRAND_CONTACT.strip())


def stored() -> BrandSettings | None:
    try:
        return BrandSettings.objects.select_related("logo").filter(pk=ROW).first()
    except DatabaseError:
        log.exception("brand settings unreadable; the environment's brand is used")
        return None


def brand() -> Brand:
    """The effective brand now: each field set in the console over its ``ENVOI_BRAND_*``
    default. Every reader of the brand (recipient pages, notice mails, market rules and
    their fixes) calls this."""
    defaults = from_environment()
    row = stored()
    if row is None:
        return defaults
    from envoi.content.images import public_url

    return Brand(name=row.name or defaults.name,
                 logo_url=public_url(row.logo) if row.logo else defaults.logo_url,
                 color=row.color if COLOR.match(row.color) else defaults.color,
                 footer_lines=_lines(row.footer) if row.footer.strip()
                 else defaults.footer_lines,
                 address=row.address or defaults.address,
                 contact=row.contact or defaults.contact)


# -- changing it ---------------------------------------------------------------------------

class BrandError(ValueError):
    """Values refused; ``errors`` maps each field to what is wrong, in the active
    language. Nothing was stored."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {error}" for name, error in errors.items()))


@dataclass(frozen=True)
class BrandChange:
    name: str
    color: str
    footer: str
    address: str = ""
    contact: str = ""
    logo: bytes | None = None  # a new logo's file, if one was chosen
    logo_name: str = ""
    remove_logo: bool = False


def _has_control(text: str, allowed: str = "") -> bool:
    """Whether ``text`` holds a control character (tabs, escapes, a line break in a
    one-line field): it would break the footer lines and the SMS sender line."""
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def check(change: BrandChange) -> None:
    errors: dict[str, str] = {}
    one_line = {"name": (change.name, MAX_NAME), "address": (change.address, MAX_ADDRESS),
                "contact": (change.contact, MAX_CONTACT)}
    for field, (value, limit) in one_line.items():
        if len(value.strip()) > limit:
            errors[field] = _("At most %(count)d characters.") % {"count": limit}
        elif _has_control(value.strip()):
            errors[field] = _("Write it on one line, without control characters.")
    color = change.color.strip()
    if color and not COLOR.match(color):
        errors["color"] = _("Write the colour as #rrggbb, for example #1d4ed8.")
    if len(change.footer) > MAX_FOOTER:
        errors["footer"] = _("At most %(count)d characters.") % {"count": MAX_FOOTER}
    elif _has_control(change.footer, allowed="\r\n"):
        errors["footer"] = _("Only line breaks may separate the lines; remove the other "
                             "control characters.")
    if errors:
        raise BrandError(errors)


def save_brand(user: Actor, change: BrandChange) -> Brand:
    """Store the brand (audited with the names of the fields changed, not their values).
    A new logo is checked and stored by the image service first; a refused one raises
    :class:`BrandError` on ``logo``."""
    require(user, "brand.manage")
    check(change)
    image = _upload_logo(user, change) if change.logo else None
    with transaction.atomic():
        row = BrandSettings.objects.select_for_update().filter(pk=ROW).first() or \
            BrandSettings(pk=ROW, updated_at=clock.now())
        before = _audited(row)
        row.name = change.name.strip()
        row.color = change.color.strip().lower()
        row.footer = change.footer.strip().replace("\r\n", "\n")
        row.address = change.address.strip()
        row.contact = change.contact.strip()
        if image is not None:
            row.logo = image
        elif change.remove_logo:
            row.logo = None
        row.updated_at = clock.now()
        row.save()
        after = _audited(row)
        changed = [name for name, old, new in zip(AUDITED_FIELDS, before, after,
                                                  strict=True) if old != new]
        audit(user, "brand.edit", fields=changed)
    return brand()


AUDITED_FIELDS = ("name", "color", "footer", "address", "contact", "logo")


def _audited(row: BrandSettings) -> tuple[object, ...]:
    return (row.name, row.color, row.footer, row.address, row.contact, row.logo_id)


def _upload_logo(user: Actor, change: BrandChange):  # -> Image
    from envoi.content import images

    try:
        return images.store(user, change.logo or b"", change.logo_name)
    except images.ImageRefused as error:
        raise BrandError({"logo": str(error)}) from error


def reset_brand(user: Actor) -> Brand:
    """Forget the console's settings: the environment's brand applies again."""
    require(user, "brand.manage")
    BrandSettings.objects.filter(pk=ROW).delete()
    audit(user, "brand.reset")
    return brand()
