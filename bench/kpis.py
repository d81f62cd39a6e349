"""Compute stats benchmark: ``envoi.reporting.kpis.compute_stats`` on one big delivery.

    .venv/bin/python bench/kpis.py [--rows 1000000] [--events 3000000] [--repeat 3]

Seeds one delivery (created through the ORM) with N sending-log rows and M tracking
events generated in SQL (``INSERT … SELECT generate_series``), builds the engagement
rows once as the incremental path would have left them, then times only
``compute_stats``: the engagement rebuilt from every event, all KPIs computed and
stored. The run fails (exit 1) unless the KPIs equal the counts the seed implies.

Seeded shape, by row number i (0-based) and event number g:
* rows: i mod 100 = 0 hard failure (user_unknown), 1 soft (mailbox_full), the rest sent;
* events go to the messages with i mod 2 = 0 (half of them), spread evenly (6 each at
  the default sizes); a quarter of those messages get two clicks, one in 50 a mirror
  view, one in 100 an unsubscribe, the other events are opens; about one event in 4
  is flagged machine (see is_machine).

Everything but the last line starts with ``#``; the last line is the comparable result.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import timedelta

import common
from common import note
from prepare import StatementTimer
from send import run_setup_sql

SEED_ROWS = """
INSERT INTO sending_sendinglog (delivery_id, profile_id, address, status, failure_type,
    failure_reason, smtp_reply, attempts, claimed_by, message_id, sent_at, updated_at)
SELECT %(delivery)s, i + 1, 'member' || i || '@rcpt' || (i %% 97) || '.example.com',
       CASE WHEN i %% 100 < 2 THEN 'failed' ELSE 'sent' END,
       CASE i %% 100 WHEN 0 THEN 'hard' WHEN 1 THEN 'soft' ELSE '' END,
       CASE i %% 100 WHEN 0 THEN 'user_unknown' WHEN 1 THEN 'mailbox_full' ELSE '' END,
       CASE WHEN i %% 100 < 2 THEN '550 5.1.1 No such user'
            ELSE '250 2.0.0 Ok: queued as ' || i END,
       1, '', '<' || %(delivery)s || '.' || i || '.envoi@mail.example.com>',
       CASE WHEN i %% 100 < 2 THEN NULL ELSE %(start)s + i * interval '10 ms' END,
       %(start)s + i * interval '10 ms'
FROM generate_series(0, %(rows)s - 1) AS i
"""

# Event g goes to message m = g mod E (E = the engaged messages: every other row) in its
# round r = g / E (each message gets events / E of them); see kind_of for its kind.
SEED_EVENTS = """
INSERT INTO tracking_trackingevent (row_id, delivery_id, profile_id, kind, link_index, url,
    at, user_agent, machine)
SELECT first.id + 2 * m, %(delivery)s, 2 * m + 1,
       kind, CASE WHEN kind = 'click' THEN g %% 45 END,
       CASE WHEN kind = 'click'
            THEN 'https://shop.example.com/spring/item-' || (g %% 45) || '?utm=mail'
            ELSE '' END,
       %(start)s + interval '1 hour' + g * interval '100 ms',
       CASE WHEN machine THEN 'Mozilla/5.0 (compatible; LinkScanner/2.1)'
            ELSE 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148' END,
       machine
FROM (SELECT g, m, r,
             CASE WHEN r IN (1, 2) AND m %% 4 = 0 THEN 'click'
                  WHEN r = 3 AND m %% 50 = 1 THEN 'mirror'
                  WHEN r = 4 AND m %% 100 = 3 THEN 'unsubscribe' ELSE 'open' END AS kind,
             (m + r) %% 7 = 0 OR m %% 10 = 5 OR (m %% 28 = 0 AND r IN (1, 2)) AS machine
      FROM (SELECT g, g %% %(engaged)s AS m, g / %(engaged)s AS r
            FROM generate_series(0, %(events)s - 1) AS g) AS numbered) AS e,
     (SELECT MIN(id) AS id FROM sending_sendinglog WHERE delivery_id = %(delivery)s) AS first
"""
KINDS = ("open", "click", "mirror", "unsubscribe")


def kind_of(m: int, r: int) -> str:
    """Event kinds, as SEED_EVENTS assigns them: a quarter of the engaged messages are
    clicked (twice), one in 50 viewed in the browser, one in 100 unsubscribed; the rest
    of the events are opens."""
    if r in (1, 2) and m % 4 == 0:
        return "click"
    if r == 3 and m % 50 == 1:
        return "mirror"
    return "unsubscribe" if r == 4 and m % 100 == 3 else "open"


def is_machine(m: int, r: int) -> bool:
    """As SEED_EVENTS flags them: one event in 7, every event of one message in 10
    (a privacy prefetcher), and both clicks of one clicked message in 7 (a scanner)."""
    return (m + r) % 7 == 0 or m % 10 == 5 or (m % 28 == 0 and r in (1, 2))


def seed(rows: int, events: int, engagement: bool = True) -> int:
    from django.db import connection
    from django.utils import timezone

    from envoi.deliveries.models import Delivery, Status
    from envoi.reporting.engagement import rebuild_engagement

    start = timezone.now() - timedelta(days=1)
    delivery = Delivery.objects.create(
        label="Spring sale", sender="news@shop.example.com", subject="Spring",
        status=Status.FINISHED, targeted=rows, to_deliver=rows, started_at=start,
        finished_at=start + timedelta(hours=3))
    params = {"delivery": delivery.pk, "rows": rows, "events": events,
              "engaged": (rows + 1) // 2, "start": start}
    for count, what, sql in [(rows, "sending-log rows", SEED_ROWS),
                             (events, "tracking events", SEED_EVENTS)]:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        note(f"seeded {count} {what} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    if engagement:
        rebuild_engagement(delivery.pk)  # as the incremental path would have left them
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    note(f"engagement built, VACUUM ANALYZE + CHECKPOINT: {time.perf_counter() - started:.1f} s "
         f"(freshly loaded tables, as autovacuum would leave them)")
    return delivery.pk


def expected_kpis(rows: int, events: int) -> dict[str, int]:
    """The counts the seed implies, computed in Python from the same formulas."""
    engaged = (rows + 1) // 2
    messages: dict[str, set[int]] = {kind: set() for kind in KINDS}
    human, human_clicks = set(), set()
    for g in range(events):
        m, r = g % engaged, g // engaged
        kind = kind_of(m, r)
        messages[kind].add(m)
        if not is_machine(m, r):
            human.add(m)
            if kind == "click":
                human_clicks.add(m)
    failed = sum(1 for i in range(rows) if i % 100 < 2)
    return {"sent": rows, "failed": failed, "delivered": rows - failed,
            "opens": len(set().union(*messages.values())), "opens_human": len(human),
            "clicks": len(messages["click"]), "clicks_human": len(human_clicks),
            "mirror_views": len(messages["mirror"]),
            "unsubscriptions": len(messages["unsubscribe"])}


def time_compute_stats(delivery_id: int) -> tuple[float, dict]:
    """One timed ``compute_stats``, with its slowest statements and who used the CPU."""
    from django.db import connection

    from envoi.reporting.kpis import compute_stats

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    timer = StatementTimer()
    timer.time_commits(connection)
    backend_cpu, python_cpu = common.cpu_seconds(backend), time.process_time()
    machine = common.machine_cpu()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        figures = compute_stats(delivery_id)
        elapsed = time.perf_counter() - started
    busy = (common.machine_cpu()[0] - machine[0]) / common.CLOCK_TICKS
    backend_cpu = common.cpu_seconds(backend) - backend_cpu
    python_cpu = time.process_time() - python_cpu
    other = max(0.0, busy - backend_cpu - python_cpu)
    note(f"{elapsed:.2f} s: PostgreSQL backend CPU {backend_cpu:.2f} s, Python CPU "
         f"{python_cpu:.2f} s, other processes {other:.2f} s; slowest statements:")
    for seconds, sql, _ in sorted(timer.statements, key=lambda s: s[0], reverse=True)[:4]:
        note(f"  {seconds:7.3f} s  {' '.join(sql.split())[:110]}")
    if other > 0.1 * elapsed * (os.cpu_count() or 1):
        note(f"WARNING: other processes used {other:.2f} CPU-seconds meanwhile; run again "
             f"on a quiet machine")
    return elapsed, figures


def explain_rebuild(delivery_id: int) -> None:
    """EXPLAIN ANALYZE of the rebuild statement, then roll back."""
    from django.db import connection, transaction

    from envoi.reporting.engagement import _REWRITE_DIFFERENCES

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + _REWRITE_DIFFERENCES,
                       [delivery_id] * 3)
        for (line,) in cursor.fetchall():
            note("    " + line)
        transaction.set_rollback(True)


def check(figures: dict, expected: dict[str, int]) -> bool:
    wrong = {name: (figures[name], value) for name, value in expected.items()
             if figures[name] != value}
    if wrong:
        common.fail(f"KPIs differ from the seed (got, expected): {wrong}")
    return not wrong


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--db-name", default="envoi_bench_kpis")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time compute_stats this many times; report the median")
    parser.add_argument("--setup-sql", default="",
                        help="SQL run after migrate, ';'-separated (try an index)")
    parser.add_argument("--no-engagement", action="store_true",
                        help="seed no engagement rows: the rebuild writes every one "
                             "(the worst case; only the first run of --repeat is)")
    parser.add_argument("--explain", action="store_true",
                        help="after timing, show the plan of the rebuild (rolled back)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    note(f"machine: {common.machine_description()}")
    data_dir = common.temp_dir("envoi-bench-kpis-")
    common.configure(common.reset_postgres(args.db_name), data_dir)
    try:
        common.setup_django(migrate=True)
        if args.setup_sql:
            run_setup_sql(args.setup_sql)
        delivery_id = seed(args.rows, args.events, engagement=not args.no_engagement)
        note(f"load average before compute stats: {common.load_average()}")
        timings = []
        for _ in range(args.repeat):
            elapsed, figures = time_compute_stats(delivery_id)
            timings.append(elapsed)
        if not check(figures, expected_kpis(args.rows, args.events)):
            return 1
        note(f"KPIs: { {k: v for k, v in figures.items() if k != 'failures_by_reason'} }")
        note(f"timings: {', '.join(f'{t:.2f} s' for t in timings)}")
        if args.explain:
            explain_rebuild(delivery_id)
    finally:
        from django.db import connection

        connection.close()
        if not args.keep:
            common.drop_postgres(args.db_name)
        shutil.rmtree(data_dir, ignore_errors=True)
    median = sorted(timings)[len(timings) // 2]
    print(f"envoi-kpis: compute stats over {args.rows} rows and {args.events} events on "
          f"postgresql in {median:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
