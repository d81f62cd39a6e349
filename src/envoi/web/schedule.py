"""Schedules as people read and enter them.

The core stores every recurring schedule as a cron expression in the delivery's time
zone; "every day at 09:00", "every week on Monday at 09:00" and "every month on the
1st at 09:00" are cron expressions too (``deliveries/scheduling.cron_of``). This module
reads those simple shapes back — to say them in the reader's language and to fill the
form's fields — and leaves any other expression as the cron text it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from envoi.deliveries.scheduling import wall_clock, zone_or

# Cron's day-of-week names, Monday first, as the form offers them.
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DAY = {name: (index + 1) % 7 for index, name in enumerate(DAY_NAMES)}  # sun = 0
_SIMPLE = re.compile(r"^(\d{1,2}) (\d{1,2}) (\*|\d{1,2}) \* (\*|[a-z0-9,]+)$")


@dataclass(frozen=True)
class Simple:
    """A schedule the form can show as "every day/week/month at HH:MM"."""

    every: str
    at: str
    weekdays: list[str] = field(default_factory=list)
    day_of_month: int | None = None


def simple(cron: str) -> Simple | None:
    """The schedule ``cron`` names, if it is one of the simple shapes."""
    match = _SIMPLE.match(cron.strip().lower())
    if not match:
        return None
    minute, hour, day, weekdays = match.groups()
    if int(minute) > 59 or int(hour) > 23:
        return None
    at = f"{int(hour):02d}:{int(minute):02d}"
    if day == "*" and weekdays == "*":
        return Simple("day", at)
    if day == "*":
        days = _weekday_names(weekdays.split(","))
        return Simple("week", at, days) if days else None
    if weekdays == "*" and 1 <= int(day) <= 31:
        return Simple("month", at, day_of_month=int(day))
    return None


def _weekday_names(terms: list[str]) -> list[str]:
    """Cron day-of-week terms (names, or 0-7 with 0 and 7 Sunday) as day names, Monday
    first; empty when a term is anything else (a range, a step)."""
    found = set()
    for term in terms:
        if term in _CRON_DAY:
            found.add(term)
        elif term.isdigit() and int(term) <= 7:
            found.add(DAY_NAMES[(int(term) + 6) % 7])
        else:
            return []
    return [name for name in DAY_NAMES if name in found]


def day_label(name: str) -> str:
    return str(WEEKDAYS[DAY_NAMES.index(name)])


def readable(cron: str) -> str | None:
    """The schedule in the reader's language, or None when only the cron text says it."""
    found = simple(cron)
    if found is None:
        return None
    if found.every == "day":
        return _("Every day at %(time)s") % {"time": found.at}
    if found.every == "week" and found.weekdays == list(DAY_NAMES[:5]):
        return _("Every weekday at %(time)s") % {"time": found.at}
    if found.every == "week":
        separator = pgettext("list separator", ", ")
        days = separator.join(day_label(name) for name in found.weekdays)
        return _("Every week on %(days)s at %(time)s") % {"days": days, "time": found.at}
    return _("Every month on day %(day)s at %(time)s") % {"day": found.day_of_month,
                                                          "time": found.at}


def period_label(period: str, run_at: datetime | None) -> str:
    """An execution's period as the reader writes it: the run's time in their zone (no
    aggregation), the day, "Week 49, 2026", or the month — never the stored key."""
    try:
        if "T" in period and run_at is not None:
            return formats.date_format(timezone.localtime(run_at), "SHORT_DATETIME_FORMAT")
        if "-W" in period:
            year, week = period.split("-W")
            return _("Week %(week)s, %(year)s") % {"week": int(week), "year": year}
        if len(period) == 7:
            return formats.date_format(date.fromisoformat(period + "-01"), "YEAR_MONTH_FORMAT")
        return formats.date_format(date.fromisoformat(period), "DATE_FORMAT")
    except ValueError:
        return period


def execution_label(label: str, period: str, run_at: datetime | None) -> str:
    """An execution's label with its period said as :func:`period_label` says it (its
    stored label is the parent's, a middle dot, and the period key)."""
    suffix = f" · {period}"
    if period and label.endswith(suffix):
        return f"{label[:-len(suffix)]} · {period_label(period, run_at)}"
    return label


def wall(moment: datetime | None, time_zone: str) -> str | None:
    """An instant as the wall-clock time a datetime-local field shows, in ``time_zone``."""
    if moment is None:
        return None
    local = wall_clock(moment, zone_or(time_zone, ZoneInfo("UTC")))
    return local.strftime("%Y-%m-%dT%H:%M")


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    """The IANA zones the form suggests: regions and cities, plus UTC."""
    names = {name for name in available_timezones()
             if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/"))}
    return ["UTC", *sorted(names)]
