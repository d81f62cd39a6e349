"""Apply a verified provider event exactly like a bounce received by mail.

Each event is first kept as an inbound message (``source`` names the provider, the
raw bytes are what the provider posted), then read through the qualification table
(:func:`envoi.bounces.parsing.notification_reading`) and applied by
:func:`envoi.bounces.ingest.apply`: the same conditional update of the sending-log
row, the same quarantine counting, the same denylisting of complaints, the same KPI
refresh. A delivery turns a ``sent`` row ``delivered`` (the KPIs count both alike).

The row is found, in this order, by the Message-ID header we wrote
(``<delivery.row.envoi@bounce-domain>``, checked against the row's own), by the
return path we sent from (signed, it names the row), or by the provider's id that
the relay's 250 reply carried at sending (:attr:`SendingLog.provider_message_id`).
"""

from __future__ import annotations

import logging
import re
import traceback

from django.conf import settings
from django.db import connection

from envoi import clock
from envoi.bounces import ingest
from envoi.bounces.models import InboundMessage, InboundOutcome
from envoi.bounces.parsing import Parsed, notification_reading
from envoi.bounces.providers import Notification
from envoi.sending.models import SendingLog
from envoi.tracking import tokens

log = logging.getLogger("envoi.bounces")

OUR_MESSAGE_ID = re.compile(r"^<(\d{1,18})\.(\d{1,18})\.envoi@([^<>\s]+)>$")

_DELIVERED = """
UPDATE sending_sendinglog SET status = 'delivered', updated_at = %s
WHERE id = %s AND status = 'sent'
"""


def receive_notification(source: str, raw: bytes, notification: Notification,
                         ) -> InboundMessage:
    """Store one verified event, then read and apply it; never raises once stored."""
    inbound = ingest.store(raw, "", [], source)
    try:
        parsed = notification_reading(notification) or Parsed()
        parsed.subject = f"{source}: {notification.event}"
        row = notification_row(notification)
        ingest.apply(inbound, parsed, row)
        if notification.event == "delivery" and row is not None:
            _mark_delivered(inbound, parsed.about(row.address), row)
    except Exception as error:
        if connection.in_atomic_block and connection.needs_rollback:
            raise
        log.warning("%s event %s could not be applied: %s", source, inbound.pk, error)
        inbound.outcome = InboundOutcome.UNPARSEABLE
        inbound.error = ingest.storable(
            "".join(traceback.format_exception_only(error))[-2000:], 2000)
        inbound.save(update_fields=["outcome", "error"])
    return inbound


def notification_row(notification: Notification) -> SendingLog | None:
    for header_id in notification.header_ids:
        row = row_of_message_id(header_id)
        if row is not None:
            return row
    for address in notification.return_paths:
        try:
            row_id = tokens.row_of_return_path(address)
        except tokens.BadToken:
            continue
        row = SendingLog.objects.filter(pk=row_id).first() if 0 < row_id < 2**63 else None
        if row is not None:
            return row
    if notification.message_id:
        return (SendingLog.objects.filter(provider_message_id=notification.message_id)
                .order_by("-id").first())
    return None


def row_of_message_id(header_id: str) -> SendingLog | None:
    """The row whose Message-ID this is: the row id is in it, and the row must have
    been sent with exactly this id (no other domain, no other delivery)."""
    found = OUR_MESSAGE_ID.match(header_id.strip())
    if found is None or found.group(3).lower() != settings.ENVOI_BOUNCE_DOMAIN.lower():
        return None
    row_id = int(found.group(2))
    row = SendingLog.objects.filter(pk=row_id).first() if 0 < row_id < 2**63 else None
    if row is None or row.message_id != header_id.strip():
        return None
    return row


def _mark_delivered(inbound: InboundMessage, parsed: Parsed, row: SendingLog) -> None:
    if parsed.reason != "delivered" or inbound.outcome != InboundOutcome.MATCHED:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DELIVERED, [clock.now(), row.pk])
        changed = cursor.rowcount == 1
    if changed:
        inbound.row_changed = True
        inbound.save(update_fields=["row_changed"])
