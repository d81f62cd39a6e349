"""Middleware: the reader's time zone, refusals of unstorable input, JSON errors under
``/api/`` and the console's Content-Security-Policy.

Times are shown in the reader's own time zone.

The console's script stores the browser's zone (``Intl``) in the ``envoi_tz`` cookie;
until it has, or for a name this server does not know, times are shown in UTC. Every
time shown carries its zone's name, so a reader never has to guess.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _

from envoi.web.input import Unstorable, fault_of, first_unstorable

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


API_PREFIX = "/api/"
# Paths that machines call and that answer JSON: the API, and the providers' webhooks.
MACHINE_PREFIXES = (API_PREFIX, "/hooks/")
TOO_LARGE = "The request body is larger than this server accepts ({limit} bytes)."


def _api(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PREFIXES)


def refusal(request: HttpRequest, status: int, detail: str, console_message: str
            ) -> HttpResponse:
    """A refusal in the API's JSON, or as a console page in the reader's language."""
    if _api(request):
        return JsonResponse({"detail": detail}, status=status)
    return render(request, "400.html", {"message": console_message, "detail": detail},
                  status=status)


class RefuseUnstorableInput:
    """Answers 400, naming the value, when a request holds text no database can store
    (see :mod:`envoi.web.input`), and 413 when its body is over the upload limit; every
    view behind it may pass what it receives to a query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            found = first_unstorable(request)
        except RequestDataTooBig:
            detail = TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            return refusal(request, 413, detail, _("The form sent is too large."))
        except TooManyFieldsSent:
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            detail = f"The request has more fields than this server accepts ({limit})."
            return refusal(request, 400, detail, _("The form sent has too many fields."))
        if found is not None and not _for_recipients(request):
            return refusal(request, 400, str(found), _unstorable_message(found))
        return self.get_response(request)


def _for_recipients(request: HttpRequest) -> bool:
    """Whether the request is for a recipient page (tracking, unsubscribe): those check
    their signed token before anything reaches the database, and answer a bad one with
    their own plain page, never the console's."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return _recipient_view(match.func)


def _unstorable_message(found: Unstorable) -> str:
    if found.field and fault_of(found.field) is None:
        return _("The request holds a character that cannot be stored (a NUL character or "
                 "broken Unicode) in the field “%(name)s”.") % {"name": found.field}
    return _("The request holds a character that cannot be stored (a NUL character or "
             "broken Unicode).")


class ApiErrorsAsJson:
    """Every error under ``/api/`` is ``{"detail": ...}`` JSON, including those Django
    answers before or around the API (unknown paths, methods, CSRF, server errors),
    whose pages are otherwise HTML. Headers such as ``Allow`` are kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (not _api(request) or response.status_code < 400
                or response.get("Content-Type", "").startswith("application/json")):
            return response
        answer = JsonResponse({"detail": _api_detail(request, response)},
                              status=response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                answer[header] = response[header]
        return answer


def _api_detail(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 404:
        return f"No API operation at {request.path!r}."
    if status == 405:
        return f"{request.method} is not allowed here; allowed: {response.get('Allow', '')}."
    if status == 403:
        return "Forbidden: the request failed the CSRF check or the server refused it."
    if status >= 500:
        return "Internal server error. The error was logged."
    return f"{HTTPStatus(status).phrase}."


# The console's policy: its own scripts, styles and images only; nothing inline.
CONSOLE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicy:
    """Sends :data:`CONSOLE_POLICY` with every HTML page that has no policy of its own
    (the message frame has a stricter one); recipient pages (tracking) are left as the
    message's author made them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if ("Content-Security-Policy" not in response
                and response.get("Content-Type", "").startswith("text/html")
                and not _recipient_page(request)):
            response["Content-Security-Policy"] = CONSOLE_POLICY
        return response


def _recipient_page(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and _recipient_view(match.func)


def _recipient_view(view: Callable) -> bool:
    return view.__module__.startswith(("envoi.tracking", "envoi.consent"))
