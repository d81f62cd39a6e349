"""The embedded shape's outbox: captured messages, shown as a recipient would see them.

The message's HTML is served on its own URL, sandboxed like the mirror page (no
scripts, an opaque origin: nothing in a message can act as the console's user), and
framed only by the console itself. Its links open in a new tab, as in a mail client;
its images load as they would for the recipient, except the open pixel: looking at a
message in the console records no open and no click (``tracking.untracked``).
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_sameorigin

from envoi.sending.models import OutboxMessage
from envoi.tracking.untracked import untracked
from envoi.tracking.views import MIRROR_POLICY
from envoi.web import queries
from envoi.web.views.common import get_or_404, requires


def parsed(message: OutboxMessage) -> EmailMessage:
    found = email.message_from_bytes(bytes(message.data), policy=policy.default)
    assert isinstance(found, EmailMessage)
    return found


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    if part is None:
        return ""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, ValueError):  # unknown charset, broken encoding
        return ""


@requires("outbox.view")
def outbox_list(request: HttpRequest) -> HttpResponse:
    page = queries.page_of(queries.outbox_messages(), queries.page_number(request.GET.get("page")))
    return render(request, "web/outbox.html", {"page": page})


@requires("outbox.view")
def outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_or_404(OutboxMessage, pk)
    content = parsed(message)
    headers = [(name, str(content.get(name, ""))) for name in
               ("From", "To", "Subject", "Date", "Reply-To", "List-Unsubscribe")
               if content.get(name)]
    return render(request, "web/outbox_message.html", {
        "message": message, "headers": headers, "text": _part(content, "plain"),
        "has_html": bool(_part(content, "html"))})


@xframe_options_sameorigin
@requires("outbox.view")
def outbox_body(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part alone, for the sandboxed frame; a text-only message as text."""
    content = parsed(get_or_404(OutboxMessage, pk))
    html = _part(content, "html")
    if not html:
        html = f"<pre>{escape(_part(content, 'plain'))}</pre>"
    response = HttpResponse('<base target="_blank">' + untracked(html),
                            content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = MIRROR_POLICY
    response["Cache-Control"] = "no-store"
    return response
