"""Public pages reached from messages. They never answer 500 and never redirect
anywhere a token did not name: a bad token gets a plain page.

The open pixel and click redirect are the hot path (every open, every click of every
message). They touch the database only for what the process has not cached — a
delivery's links, once — and for personalized links, and they append events to the
buffer (:mod:`envoi.tracking.buffer`) rather than write them. Under ASGI, Django runs
each of its (sync) middlewares through a thread hop, twice per request: ~4 ms, 250
requests a second per process. So :class:`FastPaths`, in front of Django, answers
valid pixel and plain-link click tokens itself, in ~0.1 ms on the event loop; every
other request — bad tokens included — goes through Django and the views below, which
give the same answers.
"""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from envoi import clock
from envoi.consent.pages import client_ip, render_page
from envoi.consent.preferences import reason_choices
from envoi.deliveries.liquid import PersonalizationError
from envoi.sending.models import SendingLog
from envoi.tracking import buffer, machine, services, short, tokens, untracked
from envoi.tracking.models import EventKind

TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
"""1×1, transparent, 43 bytes."""

MIRROR_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox "
                 "allow-top-navigation-by-user-activation; script-src 'none'; "
                 "object-src 'none'; base-uri 'none'; form-action 'none'")
"""The mirror page shows HTML made of a template and profile data, which Liquid does
not escape. Served from Envoi's own origin, it is sandboxed (an opaque origin: no
cookies, no scripts) so that no profile value can act as the console's user."""


def _invalid(request: HttpRequest) -> HttpResponse:
    return render_page(request, "tracking/invalid_link.html", status=400)


def _record(request: HttpRequest, kind: str, ref: tokens.MessageRef, url: str = "") -> None:
    _record_hit(kind, ref, request.headers.get("User-Agent", ""), request.method or "GET", url)


def _record_hit(kind: str, ref: tokens.MessageRef, agent: str, method: str, url: str) -> None:
    agent = agent[:500]
    buffer.record(buffer.Hit(kind, ref.delivery_id, ref.row_id, clock.now(),
                             ref.link_index, url, agent, machine.machine_agent(agent, method)))


def _pixel() -> HttpResponse:
    response = HttpResponse(TRANSPARENT_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    return response


# A bad pixel token still gets the image (and records nothing): a broken image in a
# message is worse than a quiet one, and the pixel links nowhere.
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ref = tokens.read_open(token)
    except tokens.BadToken:
        return _pixel()
    _record(request, EventKind.OPEN, ref)
    return _pixel()


@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ref = tokens.read_click(token)
        target = services.click_target(ref)
    except tokens.BadToken:
        return _invalid(request)
    _record(request, EventKind.CLICK, ref, url=target)
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def short_click(request: HttpRequest, token: str) -> HttpResponse:
    """An SMS's short link (:mod:`envoi.tracking.short`): the same redirect and click
    as email's, except that a link opened from the console counts for nothing."""
    try:
        ref = short.message_ref(token)
        target = services.click_target(ref)
    except tokens.BadToken:
        return _invalid(request)
    if not untracked.from_console(request.GET):
        _record(request, EventKind.CLICK, ref, url=target)
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def mirror(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ref = tokens.read_mirror(token)
        page = services.mirror_page(ref)
    except tokens.BadToken:
        return _invalid(request)
    except PersonalizationError:
        # The render failed or reached a limit: the recipient gets a page that says so
        # at once (the limits bound how long it took), never a 500.
        return render_page(request, "tracking/mirror_unavailable.html",
                           language=services.message_variant(ref.row_id) or _language_of(ref))
    if untracked.from_console(request.GET):
        page = untracked.untracked(page)  # a console user's look counts for nothing
    else:
        _record(request, EventKind.MIRROR, ref)
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = MIRROR_POLICY
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "HEAD"])
def proof_mirror(request: HttpRequest) -> HttpResponse:
    return render_page(request, "tracking/proof_mirror.html")


# One-click unsubscribe (RFC 8058) is a POST from the mailbox provider without any
# session or CSRF token: the signed token is the authentication.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = services.unsubscribe_target(token)
    except tokens.BadToken:
        return _invalid(request)
    # The pages speak the language of the variant the message was sent in, else the
    # profile's (then the browser's: see envoi.consent.pages).
    language = target.variant or services.profile_language(target.profile_id)
    if request.method == "GET":
        return render_page(request, "tracking/unsubscribe_confirm.html",
                           {"address": target.address, "token": token,
                            "reasons": reason_choices()}, language=language)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    services.unsubscribe(target, one_click=one_click,
                         user_agent=request.headers.get("User-Agent", "")[:500],
                         ip=client_ip(request), reason=request.POST.get("reason", ""))
    return render_page(request, "tracking/unsubscribed.html", {"address": target.address},
                       language=language)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def proof_unsubscribe(request: HttpRequest) -> HttpResponse:
    return render_page(request, "tracking/proof_unsubscribe.html")


def _language_of(ref: tokens.MessageRef) -> str:
    row = SendingLog.objects.filter(pk=ref.row_id).values("profile_id").first()
    return services.profile_language(row["profile_id"]) if row else ""


# -- the fast path (see the module docstring) ----------------------------------

class FastPaths:
    """ASGI middleware answering the hot requests without Django's machinery (above).

    Only while events are buffered (the served shape): write-through recording needs
    the database, which the event loop must not wait for.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        answer = None
        if scope["type"] == "http" and scope["method"] == "GET" and buffer.buffering():
            answer = _fast_answer(scope["path"], _user_agent(scope))
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_GIF_HEADERS = [(b"content-type", b"image/gif"), (b"cache-control", b"no-store, max-age=0"),
                (b"content-length", str(len(TRANSPARENT_GIF)).encode()),
                (b"x-content-type-options", b"nosniff")]


def _fast_answer(path: str, agent: str) -> tuple[int, list, bytes] | None:
    try:
        if path.startswith("/o/"):
            ref = tokens.read_open(path[3:])
            _record_hit(EventKind.OPEN, ref, agent, "GET", "")
            return 200, _GIF_HEADERS, TRANSPARENT_GIF
        if path.startswith("/c/"):
            ref = tokens.read_click(path[3:])
            target = services.cached_click_target(ref)
            if target is not None:
                _record_hit(EventKind.CLICK, ref, agent, "GET", target.url)
                return 302, [(b"location", target.location), (b"cache-control", b"no-store"),
                             (b"content-length", b"0")], b""
    except tokens.BadToken:
        pass  # Django's view renders the page
    return None


def _user_agent(scope: dict) -> str:
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return value.decode("latin-1")
    return ""

