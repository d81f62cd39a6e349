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
table, the partitioned one, the partitioned one without the span (a delivery prepared
by an earlier release: the claim unbounded, the record still bounded by its batch), and
a plain table with the previous release's statements (``PREVIOUS_CLAIM``,
``PREVIOUS_RECORD``: no bounds, ``id IN (SELECT …)``), the queue as it was.

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


# The previous release's statements (sending/queue.py before the sending log was
# partitioned), to compare within one run.
PREVIOUS_CLAIM = """
UPDATE {table} SET lease_until = %s, claimed_by = %s, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM {table}
    WHERE delivery_id = %s AND status = 'pending' AND id > %s
      AND (lease_until IS NULL OR lease_until < %s)
      AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
    ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
)
RETURNING id
"""
PREVIOUS_RECORD_WHERE = "WHERE s.id = o.id AND s.status = 'pending'"


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
        for plain in ("q_plain", "q_previous"):
            cursor.execute(f"CREATE TABLE {plain} (LIKE sending_sendinglog INCLUDING ALL)")
        for parted in ("q_parted", "q_unbounded"):  # the same, each sent once
            create_partitioned(cursor, parted, args.partitions, each)
        for table in ("q_plain", "q_previous", "q_parted", "q_unbounded"):
            cursor.execute(SEED.format(table=table), {
                "each": each, "total": total, "pending_from": total - PENDING + 1})
            cursor.execute(f"VACUUM ANALYZE {table}")
    note(f"{total:,} rows in each table; {args.partitions} partitions; "
         f"{PENDING:,} pending rows of delivery {last_delivery}")
    # The delivery's span, as preparation records it on the delivery.
    span = (total - each + 1, total)
    runs = {"plain": ("q_plain", span), "parted": ("q_parted", span),
            "unbounded": ("q_unbounded", (1, queue.LAST_ID)), "previous": ("q_previous", None)}
    timings: dict[str, list[float]] = {name: [] for name in runs}
    now, lease = datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=1)
    cursors = {name: 0 for name in runs}
    for _ in range(PENDING // BATCH):
        for name, (table, bounds) in runs.items():
            if bounds is None:
                claim = PREVIOUS_CLAIM.format(table=table)
                params = [lease, "bench", last_delivery, cursors[name], now, now, BATCH]
                record = queue._RECORD_BATCH.replace("sending_sendinglog", table).replace(
                    "WHERE s.id = o.id AND s.status = 'pending' AND s.id BETWEEN %s AND %s",
                    PREVIOUS_RECORD_WHERE)
            else:
                claim = queue._CLAIM["postgresql"].replace("sending_sendinglog", table)
                low, high = max(cursors[name] + 1, bounds[0]), bounds[1]
                params = [lease, "bench", low, high, last_delivery, low, high, now, now, BATCH]
                record = queue._RECORD_BATCH.replace("sending_sendinglog", table)
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(claim, params)
                ids = sorted(row[0] for row in cursor.fetchall())
            batch = json.dumps(
                [{"id": i, "status": "sent", "failure_type": "", "failure_reason": "",
                  "smtp_reply": "250 ok", "message_id": "", "provider_message_id": None,
                  "next_attempt_at": None} for i in ids])
            with transaction.atomic(), connection.cursor() as cursor:
                # The record is bounded by its own batch whether or not the span is known.
                cursor.execute(record, [now, now, batch] + (
                    [] if bounds is None else [ids[0], ids[-1]]))
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
          f"{median['unbounded']:.2f} ms without, {median['previous']:.2f} ms the previous "
          f"statements on one table (p90 {p90['plain']:.2f} / {p90['parted']:.2f} / "
          f"{p90['unbounded']:.2f} / {p90['previous']:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
