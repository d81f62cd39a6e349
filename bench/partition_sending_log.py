"""How long converting a sending log that holds rows takes (``sending.0008``), and how
long its exclusive lock is held (PostgreSQL).

    .venv/bin/python bench/partition_sending_log.py [--rows 3000000]

Migrates a new database, takes the sending log back to one plain table (``sending``
0007), fills it with ``--rows`` rows of one delivery, and runs the conversion
(:func:`envoi.sending.partitions.convert`), timing each statement: the range check's
validation (a scan that lets rows keep being written) and the statements run under the
``ACCESS EXCLUSIVE`` lock, during which workers' claims and records wait.

Everything but the last line starts with ``#``; the last line is the comparable result.
"""

from __future__ import annotations

import argparse
import sys
import time

import common
from common import note


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    url = common.reset_postgres("envoi_bench_partition_sending")
    common.configure(url, common.temp_dir("envoi-bench-partition-"))
    common.setup_django(migrate=True)
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from envoi.deliveries.models import Delivery
    from envoi.sending import partitions

    note(common.machine_description())
    call_command("migrate", "sending", "0007", verbosity=0)
    delivery = Delivery.objects.create(label="bench", sender="a@example.com", subject="s")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sending_sendinglog (delivery_id, profile_id, address, status, "
            "failure_type, failure_reason, smtp_reply, attempts, claimed_by, message_id, "
            "variant, sent_at, updated_at) SELECT %s, g, 'member' || g || '@example.com', "
            "'sent', '', '', '250 ok', 1, '', '', '', now(), now() "
            "FROM generate_series(1, %s) AS g", [delivery.pk, args.rows])
        cursor.execute("VACUUM ANALYZE sending_sendinglog")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('sending_sendinglog'))")
        size = cursor.fetchone()[0]
    note(f"{args.rows:,} rows, {size} with indexes")
    note(f"load average before: {common.load_average()}")
    timings: list[tuple[str, float, float]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((sql, started, time.perf_counter()))

    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        partitions.convert(timezone.now())
    total = time.perf_counter() - started
    note(f"load average after: {common.load_average()}")
    validate = next(end - start for sql, start, end in timings if "VALIDATE" in sql)
    locked_from = next(start for sql, start, _ in timings if sql.startswith("LOCK TABLE"))
    locked_to = max(end for _, _, end in timings)
    for sql, start, end in timings:
        if start >= locked_from:
            note(f"{(end - start) * 1000:8.2f} ms  {sql[:90]}")
    connection.close()
    common.drop_postgres("envoi_bench_partition_sending")
    print(f"partition sending log: {args.rows:,} rows converted in {total:.2f} s; range check "
          f"validated in {validate:.2f} s while writes go on; exclusive lock held for "
          f"{(locked_to - locked_from) * 1000:.0f} ms of statements (plus the commit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
