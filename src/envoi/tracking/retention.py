"""Ageing out raw tracking events: roll them up per message, then remove them.

The roll-up (:class:`~envoi.tracking.models.EventRollup`) keeps, for each message,
exactly what Compute stats and the profile history derive from its events: the first
time of each engagement column (the rules of :mod:`envoi.tracking.ingest`) and how many
events there were. ``MessageEngagement``, which the KPIs count, is not touched.

* **PostgreSQL** — the tracking log is partitioned by day of recording
  (:mod:`envoi.tracking.partitions`): each partition closed before the cutoff is rolled
  up in one ``INSERT … SELECT … GROUP BY`` and dropped, in one transaction.
* **SQLite** — events whose time is before the cutoff, in batches of
  :data:`BATCH` ids: roll up, then delete, each batch in its own transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from envoi.tracking import partitions
from envoi.tracking.ingest import ENGAGEMENT_COLUMNS, earliest, first_time_sql

BATCH = 5000
ROLLUP = "tracking_eventrollup"
EVENTS = "tracking_trackingevent"


def prune(before: datetime) -> dict[str, int]:
    """Roll up and remove the events recorded before ``before``; the counts done."""
    if partitions.is_partitioned():
        return _drop_partitions(before)
    return _delete_in_batches(before)


def _drop_partitions(before: datetime) -> dict[str, int]:
    events = dropped = 0
    for partition in partitions.closed_before(before):
        with transaction.atomic():
            events += roll_up(partition.name, "true", [])
            partitions.drop(partition)
        dropped += 1
    return {"events": events, "event_partitions": dropped}


def _delete_in_batches(before: datetime) -> dict[str, int]:
    at = connection.ops.adapt_datetimefield_value(before)
    events = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {EVENTS} WHERE at < %s ORDER BY id "
                           f"LIMIT 1 OFFSET {BATCH - 1}", [at])
            last = cursor.fetchone()
            condition, params = "at < %s", [at]
            if last is not None:
                condition, params = "at < %s AND id <= %s", [at, last[0]]
            done = roll_up(EVENTS, condition, params)
            cursor.execute(f"DELETE FROM {EVENTS} WHERE {condition}", params)
        events += done
        if last is None:
            return {"events": events}


def roll_up(table: str, condition: str, params: list) -> int:
    """Fold the events of ``table`` matching ``condition`` into the roll-up rows
    (earliest times, summed counts); how many events that was."""
    first_times = ", ".join(first_time_sql(column) for column in ENGAGEMENT_COLUMNS)
    columns = ", ".join(ENGAGEMENT_COLUMNS)
    merged = ", ".join(f"{column} = {earliest(column, ROLLUP)}" for column in ENGAGEMENT_COLUMNS)
    grouped = (f"SELECT row_id, MIN(delivery_id) AS delivery_id, MIN(profile_id) AS "
               f"profile_id, count(*) AS events, {first_times} FROM {table} "
               f"WHERE {condition} GROUP BY row_id")
    # "WHERE true": SQLite would read ON CONFLICT as the ON of a join.
    upsert = (f"INSERT INTO {ROLLUP} (row_id, delivery_id, profile_id, events, {columns}) "
              f"SELECT * FROM found WHERE true ON CONFLICT (row_id) DO UPDATE SET "
              f"events = {ROLLUP}.events + excluded.events, {merged}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A day's partition has millions of events: read it once, grouping and
            # counting in the same pass.
            cursor.execute(f"WITH found AS MATERIALIZED ({grouped}), "
                           f"saved AS ({upsert} RETURNING 1) "
                           f"SELECT coalesce(sum(events), 0) FROM found", params)
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params)
        found = int(cursor.fetchone()[0])
        cursor.execute(f"WITH found AS ({grouped}) {upsert}", params)
        return found
