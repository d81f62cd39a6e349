"""The compliance page's counts: consent notices (:mod:`envoi.consent.notices`) per
month of the date they were due.

Per month: reconfirmations due, sent and failed; result notices (opt-in and opt-out)
sent and failed; and how many are *overdue*: sent more than 14 days after they were
due, or still unsent 14 days after. Counts come from the ledger, grouped in the
database, plus the notices owed now and not yet claimed (the job's own selection),
so a notice the job has not reached yet is counted as due, and as overdue once late.
A notice cut off by a crash (still ``sending``) counts as failed: it is never resent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth

from envoi.consent.models import ConsentNotice, NoticeKind, NoticeStatus
from envoi.consent.notices import INTERRUPTED_AFTER, RESULT_WITHIN, iter_owed

MONTHS_SHOWN = 12


@dataclass
class NoticeMonth:
    month: datetime  # the first instant of the month (UTC)
    reconfirm_due: int = 0
    reconfirm_sent: int = 0
    reconfirm_failed: int = 0
    results_due: int = 0
    results_sent: int = 0
    results_failed: int = 0
    overdue: int = 0


def _month_of(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def notice_months(now: datetime) -> list[NoticeMonth]:
    """The last :data:`MONTHS_SHOWN` months (and any older month with notices still
    owed), newest first."""
    first = _month_of(now)
    for _ in range(MONTHS_SHOWN - 1):
        first = _month_of(first - timedelta(days=1))
    months: dict[datetime, NoticeMonth] = {}
    _count_ledger(months, first, now)
    _count_owed(months, now)
    return [months[key] for key in sorted(months, reverse=True)]


def _month(months: dict[datetime, NoticeMonth], key: datetime) -> NoticeMonth:
    key = _month_of(key)
    return months.setdefault(key, NoticeMonth(key))


def _count_ledger(months: dict[datetime, NoticeMonth], first: datetime,
                  now: datetime) -> None:
    interrupted = Q(status=NoticeStatus.SENDING, claimed_at__lt=now - INTERRUPTED_AFTER)
    failed = Q(status=NoticeStatus.FAILED) | interrupted
    late = (Q(status=NoticeStatus.SENT, sent_at__gt=F("due_at") + RESULT_WITHIN)
            | (~Q(status=NoticeStatus.SENT) & Q(due_at__lt=now - RESULT_WITHIN)))
    rows = (ConsentNotice.objects.filter(due_at__gte=first)
            .annotate(month=TruncMonth("due_at", tzinfo=UTC))
            .values("month", "kind").order_by()
            .annotate(total=Count("id"),
                      sent=Count("id", filter=Q(status=NoticeStatus.SENT)),
                      failed=Count("id", filter=failed), late=Count("id", filter=late)))
    for row in rows:
        month = _month(months, row["month"])
        if row["kind"] == NoticeKind.RECONFIRM:
            month.reconfirm_due += row["total"]
            month.reconfirm_sent += row["sent"]
            month.reconfirm_failed += row["failed"]
        else:
            month.results_due += row["total"]
            month.results_sent += row["sent"]
            month.results_failed += row["failed"]
        month.overdue += row["late"]
    for month_key in _months_between(first, now):
        _month(months, month_key)


def _count_owed(months: dict[datetime, NoticeMonth], now: datetime) -> None:
    """Notices owed and not in the ledger yet (a failed one with attempts left is in
    it already, counted there)."""
    retrying = set(ConsentNotice.objects.filter(status=NoticeStatus.FAILED)
                   .values_list("consent_id", "kind", "period"))
    for due in iter_owed(now):
        if (due.consent_id, due.kind, due.period) in retrying:
            continue
        month = _month(months, due.due_at)
        if due.kind == NoticeKind.RECONFIRM:
            month.reconfirm_due += 1
        else:
            month.results_due += 1
        if due.due_at < now - RESULT_WITHIN:
            month.overdue += 1


def _months_between(first: datetime, now: datetime) -> list[datetime]:
    found, month = [], first
    while month <= now:
        found.append(month)
        month = _month_of(month + timedelta(days=32))
    return found
