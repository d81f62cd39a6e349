"""What comes back over SMPP: delivery receipts and replies (MO messages).

- A **receipt** names the SMSC's id of one part. The part takes its ``stat``; a row
  becomes ``delivered`` once every one of its parts is ``DELIVRD``, and ``failed``, with
  the receipt's reason, as soon as one part's journey ends otherwise
  (:data:`envoi.bounces.smpp.RECEIPT_FAILURES`).
- A **reply** is matched to the profile by number: the number a message was sent to,
  else a profile's phone. A reply that is one of the STOP keywords
  (``ENVOI_SMS_STOP_KEYWORDS``) sets the profile's ``sms_opt_out``; it is audited and
  shows in the profile's history.
- What matches nothing is kept, with ``outcome`` unmatched, and listed.

Everything runs in the worker's thread, in bulk: one poll handles every receipt that
came in since the last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from envoi.bounces.models import InboundOutcome, InboundSms
from envoi.bounces.qualification import HARD, Reason
from envoi.bounces.smpp import DELIVERED, RECEIPT_FAILURES, receipt_failure
from envoi.sql import among

CHANNEL = "sms"


def record_parts(sent: Sequence[tuple[int, list[str]]], now: datetime) -> None:
    """The SMSC's ids of the parts of the rows just recorded as sent."""
    rows = [(row_id, sequence, message_id)
            for row_id, ids in sent for sequence, message_id in enumerate(ids, start=1)]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO sending_smspart (row_id, sequence, message_id, smsc, "
                           "stat) VALUES (%s, %s, %s, '', '')", rows)


def take_in(events: Sequence[Any], now: datetime) -> list[Any]:
    """Record receipts and replies; the receipts that match no part (yet)."""
    receipts = [event for event in events if event.is_receipt]
    replies = [event for event in events if not event.is_receipt]
    with transaction.atomic():
        unmatched = _receipts(receipts, now)
        for reply in replies:
            _reply(reply, now)
    return unmatched


def keep_unmatched(events: Iterable[Any], now: datetime) -> None:
    InboundSms.objects.bulk_create(
        InboundSms(received_at=now, kind=InboundSms.RECEIPT, smsc=event.smsc,
                   source=event.source[:32], destination=event.destination[:32],
                   text=event.text[:2000], message_id=event.message_id[:65],
                   stat=event.stat[:8], outcome=InboundOutcome.UNMATCHED)
        for event in events)


def _receipts(receipts: list[Any], now: datetime) -> list[Any]:
    if not receipts:
        return []
    by_id = {event.message_id: event for event in receipts if event.message_id}
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            condition, params = among("message_id", ids[start:start + 500])
            cursor.execute(f"SELECT message_id, row_id FROM sending_smspart "  # noqa: S608
                           f"WHERE {condition}", params)
            found.update(cursor.fetchall())
        cursor.executemany("UPDATE sending_smspart SET stat = %s, received_at = %s "
                           "WHERE message_id = %s",
                           [(by_id[message_id].stat[:8], now, message_id)
                            for message_id in found])
        permanent = {row_id for message_id, row_id in found.items()
                     if receipt_failure(by_id[message_id].stat,
                                        by_id[message_id].text) == (HARD, Reason.USER_UNKNOWN)}
        failed = _settle_rows(cursor, sorted(set(found.values())), now, permanent)
    quarantine_numbers([(row_id, reason) for row_id, failure_type, reason in failed
                        if failure_type == HARD], now, source="bounce")
    return [event for event in receipts if event.message_id not in found]


def quarantine_numbers(rows: Sequence[tuple[int, str]], now: datetime, *,
                       source: str = "sending") -> None:
    """Hard failures of SMS rows (row id, reason) quarantine their numbers, as hard
    bounces do email addresses: the next preparation excludes them (quarantined).
    Soft failures are not counted: an SMSC's soft statuses and receipts mostly say the
    handset was off or the network busy, not that the number is wrong."""
    from envoi.bounces.quarantine import Failure, note_failures
    from envoi.sending.models import SendingLog

    if not rows:
        return
    reasons = dict(rows)
    addresses = SendingLog.objects.filter(pk__in=list(reasons)).values_list("id", "address")
    note_failures([Failure(address, HARD, reasons[row_id], source, row_id)
                   for row_id, address in addresses], now, channel=CHANNEL)


def _settle_rows(cursor, row_ids: list[int], now: datetime, permanent: set[int]
                 ) -> list[tuple[int, str, str]]:
    """Move each row its parts' receipts decide: delivered, failed (hard when a receipt
    says the number cannot receive), or not yet. The rows failed, with type and reason."""
    stats: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(row_ids), 500):
        condition, params = among("row_id", row_ids[start:start + 500])
        cursor.execute(f"SELECT row_id, stat FROM sending_smspart WHERE {condition}",  # noqa: S608
                       params)
        for row_id, stat in cursor.fetchall():
            stats[row_id].append(stat)
    delivered, failed = [], []
    for row_id, row_stats in stats.items():
        failure = next((RECEIPT_FAILURES[s] for s in row_stats if s in RECEIPT_FAILURES),
                       None)
        if failure is not None and row_id in permanent:
            failure = (HARD, Reason.USER_UNKNOWN)
        if failure is not None:
            failed.append((failure[0], failure[1], now, row_id))
        elif all(s == DELIVERED for s in row_stats):
            delivered.append((now, row_id))
        # else: ACCEPTD, ENROUTE, or parts without a receipt yet
    if delivered:
        cursor.executemany("UPDATE sending_sendinglog SET status = 'delivered', "
                           "updated_at = %s WHERE id = %s AND status = 'sent'", delivered)
    if failed:
        cursor.executemany("UPDATE sending_sendinglog SET status = 'failed', "
                           "failure_type = %s, failure_reason = %s, updated_at = %s "
                           "WHERE id = %s AND status IN ('sent', 'delivered')", failed)
    return [(row_id, failure_type, reason) for failure_type, reason, _, row_id in failed]


def is_stop(text: str) -> bool:
    words = {word.casefold() for word in settings.ENVOI_SMS_STOP_KEYWORDS}
    return text.strip().strip(".!").casefold() in words


def number_of(source: str) -> str:
    """A number as an SMSC writes it (international digits) in E.164."""
    digits = source.strip()
    return digits if digits.startswith("+") else f"+{digits}"


def profile_for(number: str) -> tuple[int | None, int | None]:
    """(profile, row) of a number: the last SMS sent to it, else a profile's phone."""
    from envoi.audiences.models import Profile
    from envoi.sending.models import SendingLog

    row = (SendingLog.objects.filter(address=number).order_by("-id")
           .values_list("id", "profile_id").first())
    if row is not None:
        return row[1], row[0]
    profile_id = (Profile.objects.filter(phone__in=[number, number.lstrip("+")])
                  .order_by("id").values_list("id", flat=True).first())
    return profile_id, None


def _reply(event: Any, now: datetime) -> InboundSms:
    from envoi.accounts.services import audit
    from envoi.audiences.models import Profile

    number = number_of(event.source)
    profile_id, row_id = profile_for(number)
    stop = profile_id is not None and is_stop(event.text)
    if stop and profile_id is not None:
        Profile.objects.filter(pk=profile_id).update(sms_opt_out=True)
        audit(None, "profile.sms_opt_out", profile_id=profile_id, number=number,
              reply=event.text[:160], smsc=event.smsc)
    return InboundSms.objects.create(
        received_at=now, kind=InboundSms.REPLY, smsc=event.smsc, source=number[:32],
        destination=event.destination[:32], text=event.text[:2000],
        outcome=InboundOutcome.MATCHED if profile_id else InboundOutcome.UNMATCHED,
        profile_id=profile_id, row_id=row_id, stop=stop)


def unmatched(limit: int = 200) -> list[InboundSms]:
    """Receipts and replies that matched nothing, newest first."""
    return list(InboundSms.objects.filter(outcome=InboundOutcome.UNMATCHED)
                .order_by("-id")[:limit])
