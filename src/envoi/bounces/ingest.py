"""Take in one message that came back: store it, read it, apply it.

The raw bytes are committed first (:class:`InboundMessage`, outcome ``received``), and
only then parsed, so a message that crashes the parser, or a process that dies while
reading it, leaves it kept and listed; :func:`receive` never raises once it is stored.

Applying a parsed message, once it is tied to its sending-log row:

* a failure (hard or soft) turns the row ``failed`` if it was ``sent`` or
  ``delivered`` (one conditional UPDATE, so a second bounce for the same message
  changes nothing), keeps its ``sent_at``, and counts against the address
  (:mod:`envoi.bounces.quarantine`). The delivery's stored KPIs are refreshed at once:
  delivered falls and bounces + errors rises by one.
* a complaint denylists the address; the row stays as it is (the message arrived).
* an auto-reply or a delay warning changes nothing; it is kept for the record.

A report about several recipients is read once per recipient
(:attr:`Parsed.recipients`); the row it is tied to takes the reading of its own
address, never another recipient's.

A message whose return path is not one of ours (or whose signature fails) is kept as
``unmatched`` and changes nothing: anybody can send mail to the bounce domain.
"""

from __future__ import annotations

import logging
import traceback

from django.db import connection, transaction

from envoi import clock
from envoi.bounces import quarantine
from envoi.bounces.models import InboundKind, InboundMessage, InboundOutcome
from envoi.bounces.parsing import Parsed, header_text, parse
from envoi.bounces.qualification import HARD, SOFT
from envoi.ops import metrics
from envoi.sending import guards
from envoi.sending.models import SendingLog
from envoi.tracking import tokens

log = logging.getLogger("envoi.bounces")

_FAIL_ROW = """
UPDATE sending_sendinglog
SET status = 'failed', failure_type = %s, failure_reason = %s, smtp_reply = %s,
    updated_at = %s
WHERE id = %s AND status IN ('sent', 'delivered')
"""


def receive(raw: bytes, mail_from: str = "", rcpt_to: list[str] | None = None,
            source: str = "smtp") -> InboundMessage:
    """Store one received message, then read and apply it. Raises only if it could
    not be stored (the SMTP listener then answers 451 and the sender tries again)."""
    inbound = store(raw, mail_from, rcpt_to or [], source)
    process(inbound)
    return inbound


def store(raw: bytes, mail_from: str, rcpt_to: list[str], source: str) -> InboundMessage:
    return InboundMessage.objects.create(
        received_at=clock.now(), source=source, mail_from=storable(mail_from, 320),
        rcpt_to=[storable(r, 320) for r in rcpt_to][:100], raw=raw, size=len(raw))


def storable(text: object, limit: int) -> str:
    """Text any database column takes: no NUL, no lone surrogates (which the parser
    keeps for undecodable header bytes), at most ``limit`` characters."""
    clean = str(text).encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return clean[:limit]


def process(inbound: InboundMessage) -> InboundMessage:
    """Read and apply a stored message; any failure leaves it ``unparseable``."""
    try:
        parsed = parse(bytes(inbound.raw), inbound.rcpt_to)
        apply(inbound, parsed)
    except Exception as error:
        if connection.in_atomic_block and connection.needs_rollback:
            raise  # the caller's transaction is broken: let its owner roll it back
        log.warning("inbound message %s could not be read: %s", inbound.pk, error)
        inbound.outcome = InboundOutcome.UNPARSEABLE
        inbound.error = storable("".join(traceback.format_exception_only(error))[-2000:], 2000)
        inbound.subject = storable(_subject(bytes(inbound.raw)), 500)
        inbound.save(update_fields=["outcome", "error", "subject"])
    metrics.BOUNCES_RECEIVED.labels(inbound.outcome).inc()
    return inbound


def _subject(raw: bytes) -> str:
    try:
        from email import message_from_bytes
        from email.policy import compat32

        return header_text(message_from_bytes(raw, policy=compat32), "Subject")[:500]
    except Exception:  # the header is as broken as the rest
        return ""


def apply(inbound: InboundMessage, parsed: Parsed, row: SendingLog | None = None) -> None:
    """Apply a reading to the row it names (``row`` when the caller found it another
    way, as provider webhooks do by Message-ID or the provider's id)."""
    row = row or matching_row(parsed)
    if row is not None:
        # A report about several recipients: the row's own recipient's reading counts.
        parsed = parsed.about(row.address)
    _describe(inbound, parsed, row)
    with transaction.atomic():
        if row is not None:
            inbound.row_changed = _apply_to_row(row, parsed)
        inbound.save()
    if inbound.row_changed and row is not None:
        _refresh_kpis(row.delivery_id)
    if row is not None and (inbound.row_changed or parsed.kind == InboundKind.COMPLAINT):
        _guard(row.delivery_id, parsed.kind == InboundKind.COMPLAINT)


def _describe(inbound: InboundMessage, parsed: Parsed, row: SendingLog | None) -> None:
    inbound.kind = parsed.kind
    inbound.subject = storable(parsed.subject, 500)
    inbound.address = storable(parsed.address, 320)
    inbound.failure_type = parsed.failure_type
    inbound.failure_reason = storable(parsed.reason, 64)
    inbound.status_code = storable(parsed.status_code, 32)
    inbound.diagnostic = storable(parsed.diagnostic, 500)
    if not parsed.understood:
        inbound.outcome = InboundOutcome.UNPARSEABLE
        inbound.error = "neither a delivery status notification, a bounce, a complaint " \
                        "nor an auto-reply"
    elif row is None:
        inbound.outcome = InboundOutcome.UNMATCHED
    else:
        inbound.outcome = InboundOutcome.MATCHED
        inbound.row_id, inbound.delivery_id = row.pk, row.delivery_id
        inbound.address = inbound.address or row.address.lower()


def matching_row(parsed: Parsed) -> SendingLog | None:
    """The sending-log row a message answers: the first return path (or, for a
    complaint, unsubscribe link) whose signature holds and whose row exists."""
    row_ids = []
    for address in parsed.return_paths:
        try:
            row_ids.append(tokens.row_of_return_path(address))
        except tokens.BadToken:
            continue
    for token in parsed.unsubscribe_tokens:
        try:
            row_ids.append(tokens.unsign("unsubscribe", token)[0])
        except (tokens.BadToken, ValueError):
            continue
    for row_id in row_ids:
        if 0 < row_id < 2**63:
            row = SendingLog.objects.filter(pk=row_id).first()
            if row is not None:
                return row
    return None


def _apply_to_row(row: SendingLog, parsed: Parsed) -> bool:
    """Apply what the message says to its row and address; whether the row changed."""
    now = clock.now()
    address = row.address.strip().lower()
    if parsed.kind == InboundKind.COMPLAINT:
        quarantine.denylist(address, parsed.reason, now, row_id=row.pk)
        return False
    if parsed.failure_type not in (HARD, SOFT):
        return False  # auto-reply, delay warning: nothing failed
    with connection.cursor() as cursor:
        reply = storable(" ".join(filter(None, [parsed.status_code, parsed.diagnostic])), 500)
        cursor.execute(_FAIL_ROW, [parsed.failure_type, storable(parsed.reason, 64), reply,
                                   now, row.pk])
        changed = cursor.rowcount == 1
    if changed:
        quarantine.note_failures([quarantine.Failure(address, parsed.failure_type,
                                                     parsed.reason, "bounce", row.pk)], now)
    return changed


def _guard(delivery_id: int, complaint: bool) -> None:
    """A sending delivery pauses itself past its complaint or hard-bounce threshold
    (:mod:`envoi.sending.guards`)."""
    try:
        guards.after_inbound(delivery_id, complaint)
    except Exception:  # the bounce itself is applied; the worker's checks go on
        log.exception("could not judge delivery %s after a bounce", delivery_id)


def _refresh_kpis(delivery_id: int) -> None:
    from envoi.reporting import kpis

    try:
        kpis.refresh(delivery_id)
    except Exception:  # the hourly job will catch up; the bounce itself is applied
        log.exception("could not refresh the KPIs of delivery %s", delivery_id)

