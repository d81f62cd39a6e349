"""What every recipient page shares: its language and the sender's brand.

A recipient page (unsubscribe, preference centre, subscription, confirmation, the
mirror's chrome, an invalid link) speaks the profile's language when the page knows
the profile, else the browser's (``Accept-Language``, through Django's locale
middleware), else English.

The brand is configured with environment variables, read once at start (a restart
applies a change, as for every other setting):

``ENVOI_BRAND_NAME``       the sender's name, in the page header and confirmation mail;
``ENVOI_BRAND_LOGO_URL``   an ``https://`` image shown above it (optional);
``ENVOI_BRAND_COLOR``      the accent colour, ``#rgb`` or ``#rrggbb``;
``ENVOI_BRAND_FOOTER``     the legal footer: the company and its postal address, which
                           Korea's and Japan's anti-spam laws require; ``\\n`` breaks lines.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from envoi.accounts.throttle import client_address

RECIPIENT_LANGUAGES = ("en", "ko", "ja")
DEFAULT_COLOR = "#1d4ed8"
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    color: str
    footer_lines: tuple[str, ...]


def brand() -> Brand:
    color = settings.ENVOI_BRAND_COLOR
    logo = settings.ENVOI_BRAND_LOGO_URL
    return Brand(
        name=settings.ENVOI_BRAND_NAME,
        logo_url=logo if logo.startswith(("https://", "http://")) else "",
        color=color if _COLOR.match(color) else DEFAULT_COLOR,
        footer_lines=tuple(line.strip() for line in
                           settings.ENVOI_BRAND_FOOTER.replace("\\n", "\n").splitlines()
                           if line.strip()))


def supported(language: str | None) -> str | None:
    """``ko`` for ``ko-KR``, ``ko_kr`` or ``KO``; None for a language pages do not speak."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in RECIPIENT_LANGUAGES else None


def recipient_language(request: HttpRequest, profile_language: str = "") -> str:
    return (supported(profile_language)
            or supported(translation.get_language_from_request(request))
            or "en")


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address as consent proof keeps it; None when the address (or a
    proxy header's value) is not an IP address."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def render_page(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
                *, language: str = "", status: int = 200) -> HttpResponse:
    """A recipient page in the recipient's language (see the module docstring)."""
    chosen = recipient_language(request, language)
    with translation.override(chosen):
        response = render(request, template, {**(context or {}), "LANGUAGE_CODE": chosen,
                                              "brand": brand()}, status=status)
    response["Content-Language"] = chosen
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
