"""PostgreSQL: the tracking log as a RANGE-partitioned table on its ``id``, one
partition per UTC day of recording, so that ageing events out drops whole partitions.

Why the id and not the event time (docs/ARCHITECTURE.md, "Retention"): the primary
key, the indexes and every query stay exactly as they were (a partition key must be
part of the primary key), and events recorded late (the buffer flushes seconds after a
click; ``envoi ingest`` loads old events) still land in the partition that is open.

* Each partition's span of recording time is written in its table comment (JSON), so
  the catalogue alone says what exists: nothing to keep in step with it.
* Each partition covers :data:`WIDTH` ids (2^36: 68 billion events a day before the
  next partition, pre-created, takes over).
* :func:`rotate`, a periodic job, opens the partition of a new day: it creates the one
  after it, and moves the id sequence to the new partition's first id. An id handed
  out just before the move still lands in the partition closing, which is why a
  partition is dropped only once it closed before the cutoff.
* :func:`drop_closed_before` detaches and drops the partitions wholly older than the
  cutoff, after :mod:`envoi.tracking.retention` rolled their events up.

:func:`convert` and :func:`revert` are the migration's two directions. The table
that existed is attached as the first partition, without copying it and without a scan
under a lock: its range is first declared as a CHECK constraint, validated while events
are still written, and ATTACH trusts a validated constraint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

TABLE = "tracking_trackingevent"
SEQUENCE = f"{TABLE}_id_seq"
WIDTH = 1 << 36
FIRST_RANGE = f"{TABLE}_first_range"


@dataclass(frozen=True)
class Partition:
    name: str
    low: int | None  # None: from the smallest id (the table that was converted)
    high: int
    opened_at: datetime | None  # None: before partitioning
    closed_at: datetime | None  # None: the partition taking new ids


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        return cursor.fetchone()[0] == "p"


# The migration. --------------------------------------------------------------------


def convert(now: datetime) -> None:
    """Make the plain table the first partition of a partitioned table (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')")
        old_sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value FROM {old_sequence}")
        # Room for every id handed out before the swap below takes the lock.
        bound = int(cursor.fetchone()[0]) + WIDTH
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {FIRST_RANGE} "
                       f"CHECK (id < {bound}) NOT VALID")
        # Takes SHARE UPDATE EXCLUSIVE: events keep being written during the scan.
        cursor.execute(f"ALTER TABLE {TABLE} VALIDATE CONSTRAINT {FIRST_RANGE}")
    with transaction.atomic(), connection.cursor() as cursor:
        first = f"{TABLE}_p0"
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        indexes = _secondary_indexes(cursor)
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {first}")
        for name, _ in indexes:
            cursor.execute(f"ALTER INDEX {name} RENAME TO {_renamed(name)}")
        cursor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {first}_pkey")
        cursor.execute(f"ALTER TABLE {first} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cursor.execute(f"ALTER TABLE {first} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {first}) PARTITION BY RANGE (id)")
        cursor.execute(f"CREATE SEQUENCE {SEQUENCE} START WITH {bound} OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT "
                       f"nextval('{SEQUENCE}')")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        for _, definition in indexes:
            cursor.execute(definition)  # the same name, now on the partitioned table
        # Existing indexes that match are attached, not rebuilt; the range is trusted.
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {first} "
                       f"FOR VALUES FROM (MINVALUE) TO ({bound})")
        cursor.execute(f"ALTER TABLE {first} DROP CONSTRAINT {FIRST_RANGE}")
        _describe(cursor, Partition(first, None, bound, None, now))
        _create(cursor, bound, now)


def revert() -> None:
    """Back to one plain table holding every event (PostgreSQL): the reverse migration."""
    with transaction.atomic(), connection.cursor() as cursor:
        old = f"{TABLE}_partitioned"
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        indexes = _secondary_indexes(cursor)
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        for name, _ in indexes:
            cursor.execute(f"ALTER INDEX {name} RENAME TO {_renamed(name, 'parted')}")
        cursor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {old}_pkey")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {old})")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id "
                       "ADD GENERATED BY DEFAULT AS IDENTITY")
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
                       f"GREATEST((SELECT max(id) FROM {TABLE}), 1), "
                       f"(SELECT count(*) > 0 FROM {TABLE}))")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"DROP TABLE {old} CASCADE")


def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                   "AND indexname <> %s ORDER BY indexname", [TABLE, f"{TABLE}_pkey"])
    return [(name, definition) for name, definition in cursor.fetchall()]


def _renamed(index: str, suffix: str = "p0") -> str:
    return f"{index[:55]}_{suffix}"


# The periodic job. -------------------------------------------------------------------


def partitions() -> list[Partition]:
    """Every partition of the tracking log Envoi made, oldest first. One without the
    span Envoi writes (made by hand) is left out: it is never rotated nor dropped."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, obj_description(c.oid, 'pg_class') "
                       "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = %s::regclass", [TABLE])
        found = [_read(name, comment) for name, comment in cursor.fetchall()]
    return sorted((p for p in found if p is not None), key=lambda p: p.high)


def _read(name: str, comment: str | None) -> Partition | None:
    try:
        span = json.loads(comment or "")
        return Partition(name, span["low"], int(span["high"]), _moment(span["opened_at"]),
                         _moment(span["closed_at"]))
    except (ValueError, KeyError, TypeError):
        return None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _describe(cursor, partition: Partition) -> None:
    span = {"low": partition.low, "high": partition.high,
            "opened_at": partition.opened_at.isoformat() if partition.opened_at else None,
            "closed_at": partition.closed_at.isoformat() if partition.closed_at else None}
    cursor.execute(f"COMMENT ON TABLE {partition.name} IS %s", [json.dumps(span)])


def _create(cursor, low: int, now: datetime) -> Partition:
    """Create the partition of ``WIDTH`` ids from ``low``, named after its first day."""
    partition = Partition(f"{TABLE}_{now:%Y%m%d}_{low // WIDTH}", low, low + WIDTH, now, None)
    cursor.execute(f"CREATE TABLE {partition.name} PARTITION OF {TABLE} "
                   f"FOR VALUES FROM ({partition.low}) TO ({partition.high})")
    _describe(cursor, partition)
    return partition


def rotate(now: datetime) -> str | None:
    """Open a new partition when the open one was opened on an earlier UTC day; the
    name of the partition opened, if any. Runs under the periodic-job lock.

    Every statement is transactional, the sequence move included (``ALTER SEQUENCE …
    RESTART``, unlike ``setval``, rolls back), so a rotation that fails half-way leaves
    nothing pointing at a partition that does not exist.
    """
    if not is_partitioned() or _open_partition_to_close(now) is None:
        return None  # the usual answer, without taking any lock
    with transaction.atomic(), connection.cursor() as cursor:
        # Self-conflicting, and no insert waits for it: two rotations cannot interleave.
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE UPDATE EXCLUSIVE MODE")
        current = _open_partition_to_close(now)
        if current is None:
            return None
        opened = _create(cursor, current.high, now)
        # From the commit on, every new id falls in the new partition.
        cursor.execute(f"ALTER SEQUENCE {SEQUENCE} RESTART WITH {opened.low}")
        _describe(cursor, Partition(current.name, current.low, current.high,
                                    current.opened_at, now))
        return opened.name


def _open_partition_to_close(now: datetime) -> Partition | None:
    """The partition taking ids, if it was opened on a UTC day before ``now``'s."""
    current = next((p for p in partitions() if p.closed_at is None), None)
    if current is None or current.opened_at is None or current.opened_at.date() >= now.date():
        return None
    return current


def closed_before(cutoff: datetime) -> list[Partition]:
    """The partitions that stopped taking events before ``cutoff``, oldest first."""
    return [p for p in partitions() if p.closed_at is not None and p.closed_at < cutoff]


def drop(partition: Partition) -> None:
    """Detach and drop one partition whose events were rolled up."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {partition.name}")
        cursor.execute(f"DROP TABLE {partition.name}")
