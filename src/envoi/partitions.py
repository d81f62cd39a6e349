"""PostgreSQL: a log as a RANGE-partitioned table on its ``id``, one partition per
period of writing (a UTC day, a calendar month), opened ahead by Envoi's own job.

Two logs use it: the tracking log (:mod:`envoi.tracking.partitions`, a partition a
day, dropped once rolled up) and the sending log (:mod:`envoi.sending.partitions`, a
partition a month, anonymised in place).

Why the id and not a time column (docs/ARCHITECTURE.md, "Retention"): the primary key,
the indexes, the foreign keys and every query stay exactly as they were (a partition
key must be part of the primary key), and rows written late still land in the
partition that is open.

* Each partition's span of writing time is written in its table comment (JSON), so
  the catalogue alone says what exists: nothing to keep in step with it.
* Each partition covers ``width`` ids, far more than a period ever takes before the
  next partition, pre-created, takes over.
* :meth:`PartitionedLog.rotate`, a periodic job, opens the partition of a new period:
  it creates the one after it, and moves the id sequence to the new partition's first
  id. An id handed out just before the move still lands in the partition closing,
  which is why a partition counts as older than a cutoff only once it *closed* before.

:meth:`~PartitionedLog.convert` and :meth:`~PartitionedLog.revert` are a migration's
two directions. The table that existed is attached as the first partition, without
copying it and without a scan under a lock: its range is first declared as a CHECK
constraint, validated while rows are still written, and ATTACH trusts a validated
constraint. Its foreign keys are declared on the partitioned table, where ATTACH
adopts the first partition's own instead of checking them again; foreign keys of other
tables that pointed at it are pointed at the partitioned table, then validated outside
the lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

DAY = "day"
MONTH = "month"
_NAME_FORMATS = {DAY: "%Y%m%d", MONTH: "%Y%m"}


@dataclass(frozen=True)
class Partition:
    name: str
    low: int | None  # None: from the smallest id (the table that was converted)
    high: int
    opened_at: datetime | None  # None: before partitioning
    closed_at: datetime | None  # None: the partition taking new ids


@dataclass(frozen=True)
class ForeignKey:
    table: str  # the table that holds the constraint
    name: str
    definition: str  # as pg_get_constraintdef writes it


@dataclass(frozen=True)
class PartitionedLog:
    table: str
    width: int  # ids per partition
    period: str  # DAY or MONTH: a new partition opens with each

    @property
    def sequence(self) -> str:
        return f"{self.table}_id_seq"

    def is_partitioned(self) -> bool:
        if connection.vendor != "postgresql":
            return False
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                           [self.table])
            return cursor.fetchone()[0] == "p"

    # The migration. ----------------------------------------------------------------

    def convert(self, now: datetime) -> None:
        """Make the plain table the first partition of a partitioned table."""
        table, first_range = self.table, f"{self.table}_first_range"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
            old_sequence = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value FROM {old_sequence}")
            # Room for every id handed out before the swap below takes the lock.
            bound = int(cursor.fetchone()[0]) + self.width
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {first_range} "
                           f"CHECK (id < {bound}) NOT VALID")
            # Takes SHARE UPDATE EXCLUSIVE: rows keep being written during the scan.
            cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {first_range}")
        with transaction.atomic(), connection.cursor() as cursor:
            first = f"{table}_p0"
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            indexes = self._secondary_indexes(cursor)
            own_keys, pointing_here = self._foreign_keys(cursor)
            for key in pointing_here:  # they would follow the table to its new name
                cursor.execute(f"ALTER TABLE {key.table} DROP CONSTRAINT {key.name}")
            cursor.execute(f"ALTER TABLE {table} RENAME TO {first}")
            for name, _ in indexes:
                cursor.execute(f"ALTER INDEX {name} RENAME TO {_renamed(name)}")
            cursor.execute(f"ALTER INDEX {table}_pkey RENAME TO {first}_pkey")
            cursor.execute(f"ALTER TABLE {first} ALTER COLUMN id DROP IDENTITY IF EXISTS")
            cursor.execute(f"ALTER TABLE {first} ALTER COLUMN id DROP DEFAULT")
            cursor.execute(f"CREATE TABLE {table} (LIKE {first} INCLUDING DEFAULTS) "
                           "PARTITION BY RANGE (id)")
            cursor.execute(f"CREATE SEQUENCE {self.sequence} START WITH {bound} "
                           f"OWNED BY {table}.id")
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT "
                           f"nextval('{self.sequence}')")
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
            for _, definition in indexes:
                cursor.execute(definition)  # the same name, now on the partitioned table
            for key in own_keys:  # ATTACH adopts the first partition's own, unchecked
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {key.name} "
                               f"{key.definition}")
            # Existing indexes that match are attached, not rebuilt; the range is trusted.
            cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {first} "
                           f"FOR VALUES FROM (MINVALUE) TO ({bound})")
            cursor.execute(f"ALTER TABLE {first} DROP CONSTRAINT {first_range}")
            for key in pointing_here:
                cursor.execute(f"ALTER TABLE {key.table} ADD CONSTRAINT {key.name} "
                               f"{key.definition} NOT VALID")
            _describe(cursor, Partition(first, None, bound, None, now))
            self._create(cursor, bound, now)
        with connection.cursor() as cursor:
            for key in pointing_here:  # a scan, but writes go on meanwhile
                cursor.execute(f"ALTER TABLE {key.table} VALIDATE CONSTRAINT {key.name}")

    def revert(self) -> None:
        """Back to one plain table holding every row: the reverse migration."""
        table = self.table
        with transaction.atomic(), connection.cursor() as cursor:
            old = f"{table}_partitioned"
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            indexes = self._secondary_indexes(cursor)
            own_keys, pointing_here = self._foreign_keys(cursor)
            for key in pointing_here:
                cursor.execute(f"ALTER TABLE {key.table} DROP CONSTRAINT {key.name}")
            cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
            for name, _ in indexes:
                cursor.execute(f"ALTER INDEX {name} RENAME TO {_renamed(name, 'parted')}")
            cursor.execute(f"ALTER INDEX {table}_pkey RENAME TO {old}_pkey")
            cursor.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id "
                           "ADD GENERATED BY DEFAULT AS IDENTITY")
            cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"GREATEST((SELECT max(id) FROM {table}), 1), "
                           f"(SELECT count(*) > 0 FROM {table}))")
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute(f"DROP TABLE {old} CASCADE")
            for key in (*own_keys, *pointing_here):
                cursor.execute(f"ALTER TABLE {key.table} ADD CONSTRAINT {key.name} "
                               f"{key.definition}")

    def _secondary_indexes(self, cursor) -> list[tuple[str, str]]:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                       "AND indexname <> %s ORDER BY indexname",
                       [self.table, f"{self.table}_pkey"])
        return [(name, definition) for name, definition in cursor.fetchall()]

    def _foreign_keys(self, cursor) -> tuple[list[ForeignKey], list[ForeignKey]]:
        """The table's own foreign keys, and those of other tables that point at it."""
        cursor.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                       "conrelid = %s::regclass FROM pg_constraint WHERE contype = 'f' "
                       "AND conparentid = 0 AND (conrelid = %s::regclass "
                       "OR (confrelid = %s::regclass AND conrelid <> %s::regclass)) "
                       "ORDER BY conname", [self.table] * 4)
        found = [(ForeignKey(*row[:3]), row[3]) for row in cursor.fetchall()]
        return [k for k, own in found if own], [k for k, own in found if not own]

    # The periodic job. ---------------------------------------------------------------

    def partitions(self) -> list[Partition]:
        """Every partition of the log Envoi made, oldest first. One without the span
        Envoi writes (made by hand) is left out: it is never rotated nor dropped."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT c.relname, obj_description(c.oid, 'pg_class') "
                           "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "WHERE i.inhparent = %s::regclass", [self.table])
            found = [_read(name, comment) for name, comment in cursor.fetchall()]
        return sorted((p for p in found if p is not None), key=lambda p: p.high)

    def holding(self, low: int, high: int) -> list[Partition]:
        """The partitions whose ranges meet the ids from ``low`` to ``high``."""
        return [p for p in self.partitions()
                if (p.low is None or p.low <= high) and low < p.high]

    def _create(self, cursor, low: int, now: datetime) -> Partition:
        """Create the partition of ``width`` ids from ``low``, named after its period."""
        period = now.strftime(_NAME_FORMATS[self.period])
        partition = Partition(f"{self.table}_{period}_{low // self.width}", low,
                              low + self.width, now, None)
        cursor.execute(f"CREATE TABLE {partition.name} PARTITION OF {self.table} "
                       f"FOR VALUES FROM ({partition.low}) TO ({partition.high})")
        _describe(cursor, partition)
        return partition

    def rotate(self, now: datetime) -> str | None:
        """Open a new partition when the open one was opened in an earlier period; the
        name of the partition opened, if any. Runs under the periodic-job lock.

        Every statement is transactional, the sequence move included (``ALTER SEQUENCE …
        RESTART``, unlike ``setval``, rolls back), so a rotation that fails half-way
        leaves nothing pointing at a partition that does not exist.
        """
        if not self.is_partitioned() or self._open_partition_to_close(now) is None:
            return None  # the usual answer, without taking any lock
        with transaction.atomic(), connection.cursor() as cursor:
            # Self-conflicting, and no insert waits for it: two rotations cannot interleave.
            cursor.execute(f"LOCK TABLE {self.table} IN SHARE UPDATE EXCLUSIVE MODE")
            current = self._open_partition_to_close(now)
            if current is None:
                return None
            opened = self._create(cursor, current.high, now)
            # From the commit on, every new id falls in the new partition.
            cursor.execute(f"ALTER SEQUENCE {self.sequence} RESTART WITH {opened.low}")
            _describe(cursor, Partition(current.name, current.low, current.high,
                                        current.opened_at, now))
            return opened.name

    def _period_of(self, moment: datetime) -> tuple[int, ...]:
        if self.period == MONTH:
            return (moment.year, moment.month)
        return (moment.year, moment.month, moment.day)

    def _open_partition_to_close(self, now: datetime) -> Partition | None:
        """The partition taking ids, if it was opened in a period before ``now``'s."""
        current = next((p for p in self.partitions() if p.closed_at is None), None)
        if current is None or current.opened_at is None \
                or self._period_of(current.opened_at) >= self._period_of(now):
            return None
        return current

    def closed_before(self, cutoff: datetime) -> list[Partition]:
        """The partitions that stopped taking rows before ``cutoff``, oldest first."""
        return [p for p in self.partitions()
                if p.closed_at is not None and p.closed_at < cutoff]

    def drop(self, partition: Partition) -> None:
        """Detach and drop one partition whose rows are no longer needed."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {self.table} DETACH PARTITION {partition.name}")
            cursor.execute(f"DROP TABLE {partition.name}")


def _renamed(index: str, suffix: str = "p0") -> str:
    return f"{index[:55]}_{suffix}"


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
