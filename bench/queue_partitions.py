"""Would partitioning the sending log slow the queue? Claim + record, plain against
partitioned (PostgreSQL).

    .venv/bin/python bench/queue_partitions.py [--partitions 15] [--rows-each 200000]

Builds two copies of ``sending_sendinglog`` with the same indexes (``LIKE … INCLUDING
ALL``) and the same rows: a plain table, and one RANGE-partitioned on ``id`` in
``--partitions`` partitions (fourteen months of monthly partitions and the open one, by
default). All rows are sent but the last partition's, which hold the delivery being sent.
Then it times the worker's own statements (``sending/queue.py``: the claim with SKIP
LOCKED, and the batch record) for every batch of 200 of 20,000 pending rows, on each
table, alternating.

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
        cursor.execute("CREATE TABLE q_parted (LIKE sending_sendinglog INCLUDING DEFAULTS "
                       "INCLUDING CONSTRAINTS) PARTITION BY RANGE (id)")
        cursor.execute("ALTER TABLE q_parted ADD PRIMARY KEY (id)")
        for index in ("(delivery_id, status)", "(profile_id, id)"):
            cursor.execute(f"CREATE INDEX ON q_parted {index}")
        cursor.execute("CREATE INDEX ON q_parted (delivery_id, id) WHERE status = 'pending'")
        cursor.execute("CREATE INDEX ON q_parted (provider_message_id) "
                       "WHERE provider_message_id IS NOT NULL")
        for k in range(args.partitions):
            cursor.execute(f"CREATE TABLE q_parted_{k} PARTITION OF q_parted "
                           f"FOR VALUES FROM ({k * each + 1}) TO ({(k + 1) * each + 1})")
        for table in ("q_plain", "q_parted"):
            cursor.execute(SEED.format(table=table), {
                "each": each, "total": total, "pending_from": total - PENDING + 1})
            cursor.execute(f"VACUUM ANALYZE {table}")
    note(f"{total:,} rows in each table; {args.partitions} partitions; "
         f"{PENDING:,} pending rows of delivery {last_delivery}")
    timings: dict[str, list[float]] = {"q_plain": [], "q_parted": []}
    now = datetime.now(UTC)
    cursors = {"q_plain": 0, "q_parted": 0}
    for _ in range(PENDING // BATCH):
        for table in timings:
            claim = queue._CLAIM.format(lock="FOR UPDATE SKIP LOCKED").replace(
                "sending_sendinglog", table)
            record = queue._RECORD_BATCH.replace("sending_sendinglog", table)
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(claim, [now + timedelta(minutes=1), "bench", last_delivery,
                                       cursors[table], now, now, BATCH])
                ids = sorted(row[0] for row in cursor.fetchall())
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(record, [now, now, json.dumps(
                    [{"id": i, "status": "sent", "failure_type": "", "failure_reason": "",
                      "smtp_reply": "250 ok", "message_id": "", "provider_message_id": None,
                      "next_attempt_at": None} for i in ids])])
                assert cursor.rowcount == len(ids) == BATCH, (table, cursor.rowcount)
            timings[table].append((time.perf_counter() - started) * 1000)
            cursors[table] = ids[-1]
    note(f"load average after: {common.load_average()}")
    connection.close()
    common.drop_postgres("envoi_bench_queue_partitions")
    plain, parted = (statistics.median(timings[t]) for t in ("q_plain", "q_parted"))
    p90 = {t: statistics.quantiles(v, n=10)[-1] for t, v in timings.items()}
    print(f"queue partitions: claim + record of {BATCH} rows, median {plain:.2f} ms plain, "
          f"{parted:.2f} ms with {args.partitions} partitions (p90 {p90['q_plain']:.2f} / "
          f"{p90['q_parted']:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
