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

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from envoi.sending.channels.sms import capture
from envoi.sending.models import OutboxMessage, OutboxSms
from envoi.tracking.untracked import untracked, untracked_text
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
    sms = list(OutboxSms.objects.order_by("-id")[:SMS_SHOWN])
    for message in sms:  # a console user's click on a short link counts for nothing
        message.text = untracked_text(message.text)
    return render(request, "web/outbox.html", {"page": page, "sms": sms,
                                               "smsc": bool(capture.RUNNING)})


SMS_SHOWN = 50


@require_POST
@requires("outbox.view")
def outbox_sms_stop(request: HttpRequest) -> HttpResponse:
    """Reply STOP from a number, through the capture SMSC, as its handset would."""
    number = request.POST.get("number", "").strip()[:32]
    if not capture.RUNNING or not number:
        messages.error(request, _("The capture SMSC is not running."))
    elif capture.RUNNING[0].reply(number, "STOP"):
        messages.success(request, _("%(number)s replied STOP.") % {"number": number})
    else:
        messages.error(request, _("No worker is connected to the capture SMSC."))
    return redirect("web:outbox")


# The headers the message page shows, with what a reader calls each.
SHOWN_HEADERS = {
    "From": pgettext_lazy("mail header", "From"),
    "To": pgettext_lazy("mail header", "To"),
    "Subject": pgettext_lazy("mail header", "Subject"),
    "Date": pgettext_lazy("mail header", "Date"),
    "Reply-To": pgettext_lazy("mail header", "Reply to"),
    "List-Unsubscribe": pgettext_lazy("mail header", "Unsubscribe link"),
}

# The frame of a captured message may be read by the console's own script (to grow it
# to the message's height): it keeps its own origin, and still runs no script itself.
OUTBOX_FRAME_POLICY = MIRROR_POLICY.replace("sandbox ", "sandbox allow-same-origin ", 1)


@requires("outbox.view")
def outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_or_404(OutboxMessage, pk)
    content = parsed(message)
    headers = [(name, str(label), str(content.get(name, "")))
               for name, label in SHOWN_HEADERS.items() if content.get(name)]
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
    response["Content-Security-Policy"] = OUTBOX_FRAME_POLICY
    response["Cache-Control"] = "no-store"
    return response


@requires("outbox.view")
def outbox_raw(request: HttpRequest, pk: int) -> HttpResponse:
    """The captured message as it arrived, to open in a mail client (``.eml``)."""
    message = get_or_404(OutboxMessage, pk)
    response = HttpResponse(bytes(message.data), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{message.pk}.eml"'
    response["Cache-Control"] = "no-store"
    return response
