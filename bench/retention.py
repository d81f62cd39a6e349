"""Retention benchmark (PostgreSQL): ageing out one day's partition of tracking events.

    .venv/bin/python bench/retention.py [--events 10000000] [--messages 1000000]

Seeds one day's partition of the tracking log with N events over M messages (generated
in SQL), closes it with the partition job (:func:`envoi.tracking.partitions.rotate`)
under a controlled clock, records a few events in the next day's partition, then runs
retention for the closed day and times its two steps apart: the roll-up of the events
into one row per message (one ``INSERT … SELECT … GROUP BY``), and the partition's
DETACH + DROP, which replaces a row-by-row DELETE. The run fails (exit 1) unless every
event of the day was rolled up, the partition is gone and the next day's events remain.

``--compare-delete`` then seeds the same events again and removes them with one
``DELETE`` (and the ``VACUUM`` it leaves to do), for comparison.

Everything but the last line starts with ``#``; the last line is the comparable result.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta

import common
from common import note

SEED_EVENTS = """
INSERT INTO tracking_trackingevent (row_id, delivery_id, profile_id, kind, link_index, url,
    at, user_agent, machine)
SELECT g %% %(messages)s + 1, 1, g %% %(messages)s + 1,
       CASE WHEN g %% 5 = 0 THEN 'click' ELSE 'open' END,
       CASE WHEN g %% 5 = 0 THEN g %% 40 END,
       CASE WHEN g %% 5 = 0 THEN 'https://shop.example.com/item-' || (g %% 40) ELSE '' END,
       %(day)s + g * interval '8 ms', 'Mozilla/5.0', g %% 4 = 0
FROM generate_series(0, %(events)s - 1) AS g
"""


def compare_delete(args: argparse.Namespace, day: datetime) -> None:
    """What the partition drop replaces: the same events removed by one DELETE (the
    fastest row-by-row way; batches only add round trips), and the VACUUM it needs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM tracking_trackingevent")
        after = cursor.fetchone()[0]
        cursor.execute(SEED_EVENTS, {"messages": args.messages, "events": args.events,
                                     "day": day})
        cursor.execute("ANALYZE tracking_trackingevent")
        started = time.monotonic()
        cursor.execute("DELETE FROM tracking_trackingevent WHERE id > %s", [after])
        deleted, delete_seconds = cursor.rowcount, time.monotonic() - started
        started = time.monotonic()
        cursor.execute("VACUUM tracking_trackingevent")
        vacuum_seconds = time.monotonic() - started
    note(f"for comparison: DELETE of {deleted:,} events {delete_seconds:.1f} s, "
         f"then VACUUM {vacuum_seconds:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--compare-delete", action="store_true",
                        help="then seed the same events again and time one DELETE of them")
    args = parser.parse_args()
    url = common.reset_postgres("envoi_bench_retention")
    data_dir = common.temp_dir("envoi-bench-retention-")
    common.configure(url, data_dir)
    common.setup_django(migrate=True)
    from django.db import connection, transaction

    from envoi import clock
    from envoi.tracking import partitions
    from envoi.tracking.models import EventRollup, TrackingEvent
    from envoi.tracking.retention import roll_up

    note(common.machine_description())
    note(f"load average before: {common.load_average()}")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day += timedelta(days=1)
    clock.set_now(day)
    partitions.rotate(day)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(SEED_EVENTS, {"messages": args.messages, "events": args.events,
                                     "day": day})
        cursor.execute("ANALYZE tracking_trackingevent")
    note(f"seeded {args.events:,} events in {time.monotonic() - started:.1f} s")
    next_day = day + timedelta(days=1)
    partitions.rotate(next_day)
    with connection.cursor() as cursor:
        cursor.execute(SEED_EVENTS, {"messages": 10, "events": 100, "day": next_day})
    closed = partitions.closed_before(next_day + timedelta(hours=1))
    partition = closed[-1]
    with transaction.atomic():
        started = time.monotonic()
        rolled = roll_up(partition.name, "true", [])
        rollup_seconds = time.monotonic() - started
        started = time.monotonic()
        partitions.drop(partition)
        drop_seconds = time.monotonic() - started
        started = time.monotonic()
    commit_seconds = time.monotonic() - started
    kept = TrackingEvent.objects.count()
    summed = sum(EventRollup.objects.values_list("events", flat=True))
    note(f"roll-up {rollup_seconds:.2f} s ({EventRollup.objects.count():,} message rows); "
         f"detach + drop {drop_seconds:.3f} s; commit {commit_seconds:.3f} s")
    if args.compare_delete:
        compare_delete(args, next_day + timedelta(days=1))
    note(f"load average after: {common.load_average()}")
    gone = all(p.name != partition.name for p in partitions.partitions())
    connection.close()
    common.drop_postgres("envoi_bench_retention")
    shutil.rmtree(data_dir, ignore_errors=True)
    if rolled != args.events or summed != args.events or kept != 100 or not gone:
        common.fail(f"rolled up {rolled}, summed {summed}, kept {kept}")
        return 1
    total = rollup_seconds + drop_seconds + commit_seconds
    print(f"retention: {args.events:,} events aged out in {total:.1f} s (roll-up "
          f"{rollup_seconds:.1f} s, detach + drop {drop_seconds:.3f} s, commit "
          f"{commit_seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
