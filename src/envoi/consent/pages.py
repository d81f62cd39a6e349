"""What every recipient page shares: its language and the sender's brand.

A recipient page (unsubscribe, preference centre, subscription, confirmation, the
mirror's chrome, an invalid link) speaks the profile's language when the page knows
the profile, else the browser's (``Accept-Language``, through Django's locale
middleware), else English.

The brand (name, logo, colour, legal footer) is :func:`envoi.consent.brand.brand`: set
in the console, with the ``ENVOI_BRAND_*`` environment variables as its defaults.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from envoi.accounts.throttle import client_address
from envoi.consent.brand import Brand, brand

__all__ = ["Brand", "brand", "client_ip", "recipient_language", "render_page", "supported"]

RECIPIENT_LANGUAGES = ("en", "ko", "ja")


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
    """A recipient page in the recipient's language, wearing the sender's brand (see
    the module docstring)."""
    chosen = recipient_language(request, language)
    with translation.override(chosen):
        response = render(request, template, {**(context or {}), "LANGUAGE_CODE": chosen,
                                              "brand": brand()}, status=status)
    response["Content-Language"] = chosen
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
