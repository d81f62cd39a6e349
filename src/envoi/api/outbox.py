"""The embedded shape's capture outbox: what Envoi would have sent, to look at."""

from __future__ import annotations

from django.db.models.functions import Length
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from envoi.accounts.services import require
from envoi.api.router import get_or_404
from envoi.api.schemas import OutboxMessageOut
from envoi.sending.models import OutboxMessage

router = Router()


@router.get("", response=list[OutboxMessageOut])
def list_messages(request: HttpRequest, limit: int = Query(100, ge=1, le=1000),
                  offset: int = Query(0, ge=0, le=10**9)):
    """Newest first."""
    require(request.user, "outbox.view")
    rows = OutboxMessage.objects.annotate(size=Length("data")).order_by("-id")
    return list(rows.values("id", "received_at", "mail_from", "rcpt_to", "subject", "size")
                [offset:offset + limit])


@router.get("/{message_id}/raw", response={200: None})
def download(request: HttpRequest, message_id: int):
    """The message exactly as received, as an .eml file."""
    require(request.user, "outbox.view")
    message = get_or_404(OutboxMessage, message_id, "Outbox message")
    response = HttpResponse(bytes(message.data), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="envoi-{message_id}.eml"'
    return response
