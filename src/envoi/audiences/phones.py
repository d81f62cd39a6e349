"""Phone numbers in E.164 (``+821012345678``), by Google's libphonenumber rules.

A number written without its country code is read in the profile's country
(``attributes.country``, an ISO 3166 code such as ``JP``), else in
``ENVOI_SMS_DEFAULT_REGION``.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from django.conf import settings


@lru_cache(maxsize=4096)
def to_e164(raw: str, region: str = "") -> str | None:
    """The number in E.164, or None when it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, (region or settings.ENVOI_SMS_DEFAULT_REGION).upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(attributes: object) -> str:
    """The profile's country from its attributes, when it names one."""
    if isinstance(attributes, dict):
        country = attributes.get("country")
        if isinstance(country, str) and len(country.strip()) == 2:
            return country.strip().upper()
    return ""
