"""Would partitioning the sending log slow the queue? Claim + record, plain against
partitioned (PostgreSQL).

    .venv/bin/python bench/queue_partitions.py [--partitions 15] [--rows-each 200000]

Builds two copies of ``sending_sendinglog`` with the same indexes (``LIKE … INCLUDING
ALL``) and the same rows: a plain table, and one RANGE-partitioned on ``id`` in
``--partitions`` partitions (fourteen months of monthly partitions and the open one, by
default). All rows are sent but the last partition's, which hold the delivery being sent.
Then it times the worker's own statements (``sending/queue.py``: the claim with SKIP
LOCKED and the delivery's id span as bounds, and the batch record bounded by its own
ids) for every batch of 200 of 20,000 pending rows, alternating between the plain
table, the partitioned one, and the partitioned one without bounds (the span unknown:
a delivery prepared by an earlier release).

Everything but the last line starts with ``#``; the last line is the comparable result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import common
from common import note

BATCH = 200
PENDING = 20_000

SEED = """
INSERT INTO {table} (id, delivery_id, profile_id, address, status, failure_type,
    failure_reason, smtp_reply, attempts, claimed_by, message_id, variant, sent_at,
    updated_at)
SELECT g, 1 + (g - 1) / %(each)s, g, 'member' || g || '@example.com',
       CASE WHEN g >= %(pending_from)s THEN 'pending' ELSE 'sent' END, '', '',
       '250 ok', 1, '', '', '', now(), now()
FROM generate_series(1, %(total)s) AS g
"""


def create_partitioned(cursor, table: str, count: int, each: int) -> None:
    cursor.execute(f"CREATE TABLE {table} (LIKE sending_sendinglog INCLUDING DEFAULTS "
                   "INCLUDING CONSTRAINTS) PARTITION BY RANGE (id)")
    cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
    for index in ("(delivery_id, status)", "(profile_id, id)"):
        cursor.execute(f"CREATE INDEX ON {table} {index}")
    cursor.execute(f"CREATE INDEX ON {table} (delivery_id, id) WHERE status = 'pending'")
    cursor.execute(f"CREATE INDEX ON {table} (provider_message_id) "
                   "WHERE provider_message_id IS NOT NULL")
    for k in range(count):
        cursor.execute(f"CREATE TABLE {table}_{k} PARTITION OF {table} "
                       f"FOR VALUES FROM ({k * each + 1}) TO ({(k + 1) * each + 1})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=15)
    parser.add_argument("--rows-each", type=int, default=200_000)
    args = parser.parse_args()
    url = common.reset_postgres("envoi_bench_queue_partitions")
    data_dir = common.temp_dir("envoi-bench-queue-")
    common.configure(url, data_dir)
    common.setup_django(migrate=True)
    from django.db import connection, transaction

    from envoi.sending import queue

    note(common.machine_description())
    note(f"load average before: {common.load_average()}")
    each, total = args.rows_each, args.rows_each * args.partitions
    last_delivery = 1 + (total - 1) // each
    with connection.cursor() as cursor:
        # LIKE copies no foreign key: no delivery rows are needed.
        cursor.execute("CREATE TABLE q_plain (LIKE sending_sendinglog INCLUDING ALL)")
        for parted in ("q_parted", "q_unbounded"):  # the same, each sent once
            create_partitioned(cursor, parted, args.partitions, each)
        for table in ("q_plain", "q_parted", "q_unbounded"):
            cursor.execute(SEED.format(table=table), {
                "each": each, "total": total, "pending_from": total - PENDING + 1})
            cursor.execute(f"VACUUM ANALYZE {table}")
    note(f"{total:,} rows in each table; {args.partitions} partitions; "
         f"{PENDING:,} pending rows of delivery {last_delivery}")
    # The delivery's span, as preparation records it on the delivery.
    span = (total - each + 1, total)
    runs = {"plain": ("q_plain", span), "parted": ("q_parted", span),
            "unbounded": ("q_unbounded", (1, queue.LAST_ID))}
    timings: dict[str, list[float]] = {name: [] for name in runs}
    now = datetime.now(UTC)
    cursors = {name: 0 for name in runs}
    for _ in range(PENDING // BATCH):
        for name, (table, (first, last)) in runs.items():
            claim = queue._CLAIM["postgresql"].replace(
                "sending_sendinglog", table)
            record = queue._RECORD_BATCH.replace("sending_sendinglog", table)
            low, high = max(cursors[name] + 1, first), last
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(claim, [now + timedelta(minutes=1), "bench", low, high,
                                       last_delivery, low, high, now, now, BATCH])
                ids = sorted(row[0] for row in cursor.fetchall())
            record_low, record_high = (ids[0], ids[-1]) if high != queue.LAST_ID else (
                1, queue.LAST_ID)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(record, [now, now, json.dumps(
                    [{"id": i, "status": "sent", "failure_type": "", "failure_reason": "",
                      "smtp_reply": "250 ok", "message_id": "", "provider_message_id": None,
                      "next_attempt_at": None} for i in ids]), record_low, record_high])
                assert cursor.rowcount == len(ids) == BATCH, (name, cursor.rowcount)
            timings[name].append((time.perf_counter() - started) * 1000)
            cursors[name] = ids[-1]
    note(f"load average after: {common.load_average()}")
    connection.close()
    common.drop_postgres("envoi_bench_queue_partitions")
    median = {name: statistics.median(v) for name, v in timings.items()}
    p90 = {name: statistics.quantiles(v, n=10)[-1] for name, v in timings.items()}
    print(f"queue partitions: claim + record of {BATCH} rows, median {median['plain']:.2f} ms "
          f"plain, {median['parted']:.2f} ms with {args.partitions} partitions and the span, "
          f"{median['unbounded']:.2f} ms without (p90 {p90['plain']:.2f} / "
          f"{p90['parted']:.2f} / {p90['unbounded']:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
