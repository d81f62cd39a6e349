"""Show times in the reader's own time zone.

The console's script stores the browser's zone (``Intl``) in the ``envoi_tz`` cookie;
until it has, or for a name this server does not know, times are shown in UTC. Every
time shown carries its zone's name, so a reader never has to guess.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "envoi_tz"


def zone_named(name: str) -> ZoneInfo | None:
    if not name or len(name) > 64 or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class BrowserTimeZone:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
