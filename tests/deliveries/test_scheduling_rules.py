"""Wall-clock times, DST and cron, without a database (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envoi.deliveries.scheduling import (
    Cron,
    ScheduleError,
    as_instant,
    cron_of,
    localize,
    next_run,
    period_of,
    wall_clock,
    zone,
)

NEW_YORK, PARIS, SEOUL = zone("America/New_York"), zone("Europe/Paris"), zone("Asia/Seoul")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("wall", "tz", "instant"), [
    # Ordinary times.
    (datetime(2026, 1, 6, 9, 0), SEOUL, utc(2026, 1, 6, 0, 0)),
    (datetime(2026, 7, 1, 9, 0), PARIS, utc(2026, 7, 1, 7, 0)),
    # Spring forward: 02:30 does not exist in New York on 8 March 2026 (02:00 → 03:00)
    # nor in Paris on 29 March 2026 (02:00 → 03:00); both move forward by the gap.
    (datetime(2026, 3, 8, 2, 30), NEW_YORK, utc(2026, 3, 8, 7, 30)),  # 03:30 EDT
    (datetime(2026, 3, 29, 2, 30), PARIS, utc(2026, 3, 29, 1, 30)),  # 03:30 CEST
    # Fall back: 01:30 happens twice in New York on 1 November 2026, 02:30 twice in
    # Paris on 25 October 2026; the first (summer-time) occurrence is meant.
    (datetime(2026, 11, 1, 1, 30), NEW_YORK, utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
    (datetime(2026, 10, 25, 2, 30), PARIS, utc(2026, 10, 25, 0, 30)),  # 02:30 CEST
])
def test_wall_clock_times_become_instants(wall, tz, instant):
    assert localize(wall, tz) == instant


def test_a_skipped_time_reads_as_the_time_after_the_gap():
    instant = localize(datetime(2026, 3, 8, 2, 30), NEW_YORK)
    assert wall_clock(instant, NEW_YORK) == datetime(2026, 3, 8, 3, 30)


def test_aware_dates_keep_their_instant_and_naive_ones_read_in_the_zone():
    aware = datetime.fromisoformat("2026-01-06T09:00:00+09:00")
    assert as_instant(aware, PARIS) == utc(2026, 1, 6, 0, 0)
    assert as_instant(datetime(2026, 1, 6, 9, 0), PARIS) == utc(2026, 1, 6, 8, 0)


def test_unknown_time_zones_are_refused_by_name():
    with pytest.raises(ScheduleError, match="time_zone: unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(ScheduleError):
        zone("../../etc/passwd")


def test_a_daily_run_keeps_its_wall_clock_time_across_dst_changes():
    daily = Cron.parse("0 9 * * *")
    runs, after = [], utc(2026, 3, 6, 0, 0)
    for _ in range(4):
        after = next_run(daily, NEW_YORK, after)
        runs.append(after)
    assert [wall_clock(run, NEW_YORK).hour for run in runs] == [9, 9, 9, 9]
    # 9:00 EST is 14:00 UTC; after 8 March, 9:00 EDT is 13:00 UTC.
    assert [run.hour for run in runs] == [14, 14, 13, 13]


def test_a_run_in_the_skipped_hour_fires_once_after_the_gap():
    runs, after = [], utc(2026, 3, 7, 0, 0)
    for _ in range(3):
        after = next_run(Cron.parse("30 2 * * *"), NEW_YORK, after)
        runs.append(wall_clock(after, NEW_YORK))
    assert runs == [datetime(2026, 3, 7, 2, 30), datetime(2026, 3, 8, 3, 30),
                    datetime(2026, 3, 9, 2, 30)]


def test_a_run_in_the_repeated_hour_fires_once():
    runs, after = [], utc(2026, 10, 31, 12, 0)
    for _ in range(2):
        after = next_run(Cron.parse("30 1 * * *"), NEW_YORK, after)
        runs.append(after)
    assert runs == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_cron_fields_lists_ranges_steps_and_names():
    cron = Cron.parse("*/15 8-10 * jan,jul mon-fri")
    assert cron.minutes == {0, 15, 30, 45} and cron.hours == {8, 9, 10}
    assert cron.months == {1, 7} and cron.weekdays == {1, 2, 3, 4, 5}
    # Day of month and day of week both restricted: either may match (classic cron).
    either = Cron.parse("0 9 1 * sun")
    assert either.matches_day(datetime(2026, 1, 1).date())  # the 1st, a Thursday
    assert either.matches_day(datetime(2026, 1, 4).date())  # a Sunday
    assert not either.matches_day(datetime(2026, 1, 5).date())


@pytest.mark.parametrize(("text", "message"), [
    ("61 * * * *", "minute field: 61 is outside 0-59"),
    ("* * * *", "expected 5 fields"),
    ("0 9 * * funday", "day of week field: 'funday' is not a number"),
    ("0 10-8 * * *", "hour field: range '10-8' runs backwards"),
    ("0 9 31 2 *", "never occurs"),
])
def test_bad_cron_expressions_say_what_is_wrong(text, message):
    with pytest.raises(ScheduleError, match=message):
        next_run(Cron.parse(text), PARIS, utc(2026, 1, 1, 0, 0))


def test_simple_schedules_are_spelled_as_cron():
    assert cron_of("day", "09:00") == "0 9 * * *"
    assert cron_of("week", "7:45", ["Mon", "fri"]) == "45 7 * * mon,fri"
    assert cron_of("month", "23:59", day_of_month=15) == "59 23 15 * *"
    with pytest.raises(ScheduleError, match="recurrence.at: '25:00'"):
        cron_of("day", "25:00")


def test_aggregation_periods_follow_the_local_calendar():
    late_sunday = utc(2026, 1, 4, 20, 0)  # Monday 5 January, 05:00 in Seoul
    assert period_of(late_sunday, SEOUL, "day") == "2026-01-05"
    assert period_of(late_sunday, SEOUL, "week") == "2026-W02"
    assert period_of(late_sunday, PARIS, "week") == "2026-W01"
    assert period_of(late_sunday, SEOUL, "month") == "2026-01"
    assert period_of(late_sunday, SEOUL, "none") == "2026-01-05T05:00"
