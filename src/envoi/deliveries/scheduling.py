"""Time zones, wall-clock times and schedules (SPEC §4), with no database in sight.

A contact date is entered as a wall-clock time in an IANA time zone. Two rules settle
the wall-clock times a zone's daylight-saving changes make odd, the same rules cron
implementations and ``java.time`` use, so nobody is surprised:

* a time that does not exist (the hour skipped in spring, e.g. 02:30 on the day New
  York moves from 02:00 to 03:00) is moved forward by the length of the gap: 03:30;
* a time that occurs twice (the hour repeated in autumn) means its first occurrence,
  the one still on summer time.

Recurring schedules are five-field cron expressions (minute hour day-of-month month
day-of-week), evaluated in wall-clock time in the schedule's zone; "daily at 09:00",
"weekly on Monday at 09:00" and "monthly on the 1st at 09:00" are spelled as cron too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class ScheduleError(ValueError):
    """A schedule that cannot be understood; the message names the field and the fault."""


# -- time zones and wall-clock times ---------------------------------------------------


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    if not name or name != name.strip() or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    return _zone(name) is not None


def zone(name: str, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone called ``name``; an unknown name is an error naming ``field``."""
    found = _zone(name)
    if found is None:
        raise ScheduleError(f"{field}: unknown time zone {name!r} (use an IANA name such "
                            f"as 'Europe/Paris' or 'Asia/Seoul')")
    return found


def zone_or(name: str, fallback: ZoneInfo) -> ZoneInfo:
    """A profile's zone, or ``fallback`` when it has none or an unknown one."""
    return _zone(name) or fallback


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of the naive wall-clock time ``wall`` in ``tz``.

    Nonexistent times move forward by the gap; repeated times take the first
    occurrence (see the module docstring).
    """
    # PEP 495: with fold=0 a time in a gap is read with the offset in force before the
    # gap, which lands exactly one gap later (02:30 EST = 03:30 EDT), and a repeated
    # time is read as its first occurrence. Both are the rules above.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


# Dates a schedule may name: far enough for any campaign, near enough that every zone
# offset and every database can represent them.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def as_instant(value: datetime, tz: ZoneInfo, field: str = "contact_date") -> datetime:
    """An aware datetime as it is; a naive one read as wall-clock time in ``tz``."""
    outside = ScheduleError(f"{field}: {value.isoformat()} is outside the years "
                            f"{EARLIEST.year}-{LATEST.year - 1}")
    try:
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            instant = localize(value, tz)
        else:
            instant = value.astimezone(UTC)
    except OverflowError:
        raise outside from None
    if not EARLIEST <= instant < LATEST:
        raise outside
    return instant


# -- cron ------------------------------------------------------------------------------

_NAMES = {
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
              "dec"],
    "day of week": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int


_FIELDS = (_Field("minute", 0, 59), _Field("hour", 0, 23), _Field("day of month", 1, 31),
           _Field("month", 1, 12), _Field("day of week", 0, 7))
_TERM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def _value(text: str, field: _Field) -> int:
    names = _NAMES.get(field.name, [])
    if text in names:
        return names.index(text) + (1 if field.name == "month" else 0)
    if not text.isdigit():
        raise ScheduleError(f"cron: {field.name} field: {text!r} is not a number"
                            + (f" or a name ({', '.join(names)})" if names else ""))
    number = int(text)
    if not field.low <= number <= field.high:
        raise ScheduleError(f"cron: {field.name} field: {number} is outside "
                            f"{field.low}-{field.high}")
    return number


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for term in text.lower().split(","):
        match = _TERM.match(term)
        if not match:
            raise ScheduleError(f"cron: {field.name} field: cannot read {term!r}")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"cron: {field.name} field: a step must be at least 1")
        if span == "*":
            low, high = field.low, field.high
        else:
            first, _, last = span.partition("-")
            low = _value(first, field)
            high = _value(last, field) if last else (field.high if step_text else low)
            if high < low:
                raise ScheduleError(f"cron: {field.name} field: range {span!r} runs "
                                    f"backwards")
        values.update(range(low, high + 1, step))
    if field.name == "day of week" and 7 in values:  # 0 and 7 are both Sunday
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is "*"
    any_weekday: bool  # day of week is "*"

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = (text or "").split()
        if len(parts) != 5:
            raise ScheduleError(f"cron: expected 5 fields (minute hour day-of-month month "
                                f"day-of-week), got {len(parts)} in {text!r}")
        minutes, hours, days, months, weekdays = (
            _parse_field(part, field) for part, field in zip(parts, _FIELDS, strict=True))
        return cls(" ".join(parts), minutes, hours, days, months, weekdays,
                   any_day=parts[2] == "*", any_weekday=parts[4] == "*")

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        # Classic cron: when both day fields are restricted, either one may match.
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_wall_after(self, wall: datetime) -> datetime:
        """The first wall-clock time after ``wall`` (naive) that the expression names."""
        day = wall.date()
        for _ in range(366 * 8):  # leap days and rare dates recur within 8 years
            if self.matches_day(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute)
                        if candidate > wall:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleError(f"cron: {self.text!r} never occurs")


def next_run(cron: Cron, tz: ZoneInfo, after: datetime) -> datetime:
    """The first instant strictly after ``after`` at which ``cron`` fires in ``tz``."""
    wall = wall_clock(after, tz)
    while True:
        wall = cron.next_wall_after(wall)
        instant = localize(wall, tz)
        # Around an autumn change a later wall time can map to an earlier instant.
        if instant > after:
            return instant


# -- simple schedules, spelled as cron -------------------------------------------------

EVERY = ("day", "week", "month")
_AT = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def cron_of(every: str, at: str, weekdays: list[str] | None = None,
            day_of_month: int | None = None) -> str:
    """"daily/weekly/monthly at HH:MM" as a cron expression."""
    match = _AT.match(at or "")
    if not match:
        raise ScheduleError(f"recurrence.at: {at!r} is not a time of day (HH:MM)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if every == "day":
        return f"{minute} {hour} * * *"
    if every == "week":
        days = [d.lower()[:3] for d in weekdays or ["mon"]]
        unknown = [d for d in days if d not in _NAMES["day of week"]]
        if unknown:
            raise ScheduleError(f"recurrence.weekdays: unknown day {unknown[0]!r}")
        return f"{minute} {hour} * * {','.join(days)}"
    if every == "month":
        day = day_of_month or 1
        if not 1 <= day <= 31:
            raise ScheduleError(f"recurrence.day_of_month: {day} is outside 1-31")
        return f"{minute} {hour} {day} * *"
    raise ScheduleError(f"recurrence.every: {every!r} is not one of {', '.join(EVERY)}")


# -- aggregation periods ---------------------------------------------------------------

AGGREGATIONS = ("none", "day", "week", "month")


def period_of(run_at: datetime, tz: ZoneInfo, aggregation: str) -> str:
    """The key of the execution a run belongs to: runs with one key share it."""
    wall = wall_clock(run_at, tz)
    if aggregation == "day":
        return wall.strftime("%Y-%m-%d")
    if aggregation == "week":
        year, week, _ = wall.isocalendar()
        return f"{year}-W{week:02d}"
    if aggregation == "month":
        return wall.strftime("%Y-%m")
    return wall.strftime("%Y-%m-%dT%H:%M")
