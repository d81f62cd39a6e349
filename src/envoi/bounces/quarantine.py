"""The quarantine lifecycle of an address (SPEC §8).

::

    valid ──soft error──▶ erroneous ──5th counted soft error──▶ quarantined
      │                      │  ▲                                    │
      │                      │  └─ soft errors, at most one a day    │
      └──hard error──────────┴──────────────────────────────────────▶│
    any ──spam complaint──▶ denylisted                                │
    erroneous ──success, or 10 days without error (mailbox full: 30)──▶ valid
    quarantined, denylisted ──released by an administrator──▶ valid

Allowlisted addresses keep their status whatever happens, except a complaint: the
recipient's own word outranks an administrator's. Every transition, and every counted
soft error, is a :class:`QuarantineEvent` with its time, reason and source, so each
address keeps its history.

The sending path calls :func:`note_sending_results` once per batch: one query finds
the few rows that concern the quarantine (a failure, or a success of an erroneous
address), and a batch of successes to valid addresses costs nothing more. Changes are
made under row locks (PostgreSQL), so workers and the bounce listener may note
outcomes for the same address at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q

from envoi.accounts.services import Actor, audit, require
from envoi.bounces.models import Quarantine, QuarantineEvent
from envoi.bounces.models import QuarantineStatus as S
from envoi.bounces.qualification import HARD, SOFT, Reason
from envoi.sql import among

SOFT_ERRORS_TO_QUARANTINE = 5
RELEASE_AFTER = timedelta(days=10)
RELEASE_MAILBOX_FULL_AFTER = timedelta(days=30)
# Failures that say nothing about the address: the delivery ran out of time, or the
# receiving side refused the sender, its host or its message (block lists, rates,
# authentication, content, size): counting those would quarantine good addresses.
NOT_ABOUT_THE_ADDRESS = ("validity_expired", "delivery_stopped", Reason.POLICY)
CHANNEL = "email"


@dataclass(frozen=True)
class Failure:
    address: str
    failure_type: str  # hard or soft
    reason: str
    source: str  # sending or bounce
    row_id: int | None = None


class NotQuarantined(LookupError):
    """The address has no quarantine record."""


# -- noting outcomes ------------------------------------------------------------------


_BATCH_CONCERNS = """
SELECT s.id, s.address, s.failure_type, s.failure_reason, q.status
FROM sending_sendinglog s
LEFT JOIN bounces_quarantine q ON q.channel = 'email' AND q.address = LOWER(s.address)
WHERE {ids}
  AND (s.failure_type IN ('hard', 'soft') OR (s.status = 'sent' AND q.status = 'erroneous'))
"""


def note_sending_results(rows: Iterable, now: datetime) -> None:
    """After a batch is recorded: its failures count against their addresses, and a
    success releases an erroneous address. ``rows`` are the batch's claimed rows."""
    ids = [int(row.id) for row in rows]
    if not ids:
        return
    with connection.cursor() as cursor:
        condition, params = among("s.id", ids)
        cursor.execute(_BATCH_CONCERNS.format(ids=condition), params)
        concerns = cursor.fetchall()
    failures = [Failure(address, failure_type, reason, "sending", row_id)
                for row_id, address, failure_type, reason, _ in concerns
                if failure_type in (HARD, SOFT) and reason not in NOT_ABOUT_THE_ADDRESS]
    successes = [address for _, address, failure_type, _, status in concerns
                 if failure_type not in (HARD, SOFT) and status == S.ERRONEOUS]
    if failures:
        note_failures(failures, now)
    if successes:
        note_successes(successes, now)


def note_failures(failures: list[Failure], now: datetime, *, channel: str = CHANNEL) -> None:
    """Count failures against their addresses (of ``channel``: email addresses, or SMS
    numbers in E.164), quarantining where SPEC §8 says so. Failures that say nothing
    about the address are not counted."""
    failures = [f for f in failures if f.reason not in NOT_ABOUT_THE_ADDRESS]
    if not failures:
        return
    with transaction.atomic():
        records = _locked_records({f.address for f in failures}, channel=channel)
        events: list[QuarantineEvent] = []
        for failure in failures:
            record = records[failure.address.lower()]
            event = _apply_failure(record, failure, now)
            if event is not None:
                events.append(event)
        _save(records.values(), events)


def _apply_failure(record: Quarantine, failure: Failure, now: datetime
                   ) -> QuarantineEvent | None:
    record.last_error_at = now
    record.first_error_at = record.first_error_at or now
    if record.status in (S.QUARANTINED, S.DENYLISTED, S.ALLOWLISTED):
        return None  # already out of sending, or kept in it by hand
    before = record.status
    if failure.failure_type == HARD:
        _move(record, S.QUARANTINED, failure.reason, now)
    elif _counted_today(record, now):
        return None
    else:
        record.error_count += 1
        record.last_counted_at = now
        full = record.error_count >= SOFT_ERRORS_TO_QUARANTINE
        _move(record, S.QUARANTINED if full else S.ERRONEOUS, failure.reason, now)
    return _event(record, before, now, failure.reason, failure.source, row_id=failure.row_id)


def _counted_today(record: Quarantine, now: datetime) -> bool:
    counted = record.last_counted_at
    return counted is not None and counted.date() == now.date()


def note_successes(addresses: list[str], now: datetime) -> None:
    """A message accepted for an erroneous address releases it (SPEC §8)."""
    with transaction.atomic():
        records = _locked_records(set(addresses), create=False)
        events = [_release(record, now, "success", "sending")
                  for record in records.values() if record.status == S.ERRONEOUS]
        _save([r for r in records.values() if r.status == S.VALID], events)


def denylist(address: str, reason: str, now: datetime, *, source: str = "complaint",
             row_id: int | None = None) -> bool:
    """A spam complaint: the address is never sent to again until released by hand.
    Returns whether its status changed."""
    with transaction.atomic():
        record = _locked_records({address})[address.lower()]
        if record.status == S.DENYLISTED:
            return False
        before = record.status
        _move(record, S.DENYLISTED, reason, now)
        _save([record], [_event(record, before, now, reason, source, row_id=row_id)])
        return True


def release_expired(now: datetime) -> int:
    """The periodic job: erroneous addresses without an error for 10 days (30 when the
    mailbox was full) become valid again. Returns how many were released."""
    due = (Q(last_error_at__lte=now - RELEASE_AFTER) & ~Q(reason=Reason.MAILBOX_FULL)) | Q(
        last_error_at__lte=now - RELEASE_MAILBOX_FULL_AFTER, reason=Reason.MAILBOX_FULL)
    released = 0
    while True:
        with transaction.atomic():
            batch = list(_lock(Quarantine.objects.filter(due, status=S.ERRONEOUS)
                               .order_by("id")[:500]))
            if not batch:
                return released
            events = [_release(record, now, _quiet_reason(record), "auto_release")
                      for record in batch]
            _save(batch, events)
            released += len(batch)


def _quiet_reason(record: Quarantine) -> str:
    days = (RELEASE_MAILBOX_FULL_AFTER if record.reason == Reason.MAILBOX_FULL
            else RELEASE_AFTER).days
    return f"no_error_{days}_days"


def release(user: Actor, address: str, note: str = "", now: datetime | None = None
            ) -> Quarantine:
    """An administrator releases an address by hand (the only way out of quarantine
    and the denylist); audited."""
    from envoi import clock

    require(user, "quarantine.manage")
    moment = now or clock.now()
    with transaction.atomic():
        record = _lock(Quarantine.objects.filter(channel=channel_of(address),
                                                 address=address.strip().lower())).first()
        if record is None:
            raise NotQuarantined(f"Address {address!r} has no quarantine record.")
        before = record.status
        event = _release(record, moment, "manual", "manual", note=note)
        event.actor = user.get_username() if user is not None else ""
        _save([record], [event])
    audit(user, "quarantine.release", address=record.address, previous_status=before,
          note=note)
    return record


# -- reading --------------------------------------------------------------------------


def history(address: str) -> list[QuarantineEvent]:
    """Every event of an address, newest first."""
    return list(QuarantineEvent.objects.filter(channel=channel_of(address),
                                               address=address.lower())
                .order_by("-at", "-id"))


# -- helpers --------------------------------------------------------------------------


def channel_of(address: str) -> str:
    """Which channel an address is of: an email address has an ``@``, an SMS number in
    E.164 never does."""
    return CHANNEL if "@" in address else "sms"


def _lock(queryset):
    return queryset.select_for_update() if connection.vendor == "postgresql" else queryset


def _locked_records(addresses: set[str], create: bool = True, channel: str = CHANNEL
                    ) -> dict[str, Quarantine]:
    """The records of ``addresses`` (lower-cased), locked; missing ones created valid."""
    keys = sorted({a.strip().lower() for a in addresses})
    if create:
        Quarantine.objects.bulk_create(
            [Quarantine(channel=channel, address=key) for key in keys], ignore_conflicts=True)
    found = _lock(Quarantine.objects.filter(channel=channel, address__in=keys).order_by("address"))
    return {record.address: record for record in found}


def _move(record: Quarantine, status: str, reason: str, now: datetime) -> None:
    if record.status != status:
        record.status_changed_at = now
    record.status = status
    record.reason = reason[:64]


def _release(record: Quarantine, now: datetime, reason: str, source: str, note: str = ""
             ) -> QuarantineEvent:
    before = record.status
    _move(record, S.VALID, reason, now)
    record.error_count = 0
    record.last_counted_at = None
    return _event(record, before, now, reason, source, note=note)


def _event(record: Quarantine, before: str, now: datetime, reason: str, source: str,
           **extra) -> QuarantineEvent:
    return QuarantineEvent(channel=record.channel, address=record.address, at=now,
                           from_status=before, to_status=record.status, reason=reason[:64],
                           source=source, error_count=record.error_count, **extra)


_SAVED_FIELDS = ["status", "error_count", "reason", "first_error_at", "last_error_at",
                 "last_counted_at", "status_changed_at", "updated_at"]


def _save(records: Iterable[Quarantine], events: list[QuarantineEvent]) -> None:
    from envoi import clock

    changed = list(records)
    for record in changed:
        record.updated_at = clock.now()
    Quarantine.objects.bulk_update(changed, _SAVED_FIELDS)
    QuarantineEvent.objects.bulk_create(events)
