"""The retention job: every app ages out its own logs, one periodic job calls them all.

Each log has its own period (README, "Configuration"); 0 keeps that log for ever:

==========================  ==================================  =======================
log                         what happens after the period       setting
==========================  ==================================  =======================
raw tracking events         rolled up per message, removed      ENVOI_RETENTION_EVENTS_DAYS
sending and exclusion logs  anonymised (counts kept)            ENVOI_RETENTION_SENDING_MONTHS
inbound bounce messages     removed                             ENVOI_RETENTION_BOUNCES_DAYS
audit entries               removed                             ENVOI_RETENTION_AUDIT_DAYS
==========================  ==================================  =======================

The job runs in the workers under the periodic-job lock (:mod:`envoi.reporting.jobs`),
once a day; each run is audited (``retention.run``) with what it did and the cutoffs.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from envoi import clock
from envoi.accounts import retention as audit_retention
from envoi.accounts.services import audit
from envoi.bounces import retention as bounce_retention
from envoi.sending import retention as sending_retention
from envoi.tracking import retention as event_retention

INTERVAL = timedelta(days=1)


def cutoffs(now: datetime) -> dict[str, datetime | None]:
    """Per log, the instant before which it ages out (None: kept for ever)."""
    days = lambda n: now - timedelta(days=n) if n > 0 else None  # noqa: E731
    months = settings.ENVOI_RETENTION_SENDING_MONTHS
    return {
        "events": days(settings.ENVOI_RETENTION_EVENTS_DAYS),
        "sending": months_before(now, months) if months > 0 else None,
        "bounces": days(settings.ENVOI_RETENTION_BOUNCES_DAYS),
        "audit": days(settings.ENVOI_RETENTION_AUDIT_DAYS),
    }


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day
    when it is shorter: 31 March less one month is 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def run_retention(now: datetime | None = None) -> dict[str, Any]:
    """Age out every log past its period; the counts, as audited."""
    now = now or clock.now()
    before = cutoffs(now)
    counts: dict[str, Any] = {}
    if before["events"] is not None:
        counts |= event_retention.prune(before["events"])
    if before["sending"] is not None:
        counts |= sending_retention.prune(before["sending"], now)
    if before["bounces"] is not None:
        counts |= bounce_retention.prune(before["bounces"])
    if before["audit"] is not None:
        counts |= audit_retention.prune(before["audit"])
    detail: dict[str, Any] = {**counts, **{
        f"{log}_before": moment.isoformat() for log, moment in before.items() if moment}}
    audit(None, "retention.run", **detail)
    return counts
