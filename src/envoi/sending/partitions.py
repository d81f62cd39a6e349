"""PostgreSQL: the sending log as a RANGE-partitioned table on its ``id``, one
partition per calendar month (UTC) of writing (:mod:`envoi.partitions` says how).

Rows are never dropped (retention anonymises them, :mod:`envoi.sending.retention`, and
every count reads them), so what partitioning buys here is a table that stays the size
of a month where it matters: a month's partition and its indexes are what the queue
touches, vacuums and keeps in memory. For that, the queue's statements carry literal
id bounds (:mod:`envoi.sending.queue`), so that each is planned over the partition or
two that hold the delivery's rows, not over every month kept.

Each partition covers :data:`WIDTH` ids: 68 billion rows a month before the next
partition, pre-created, takes over.
"""

from __future__ import annotations

from envoi.partitions import MONTH, Partition, PartitionedLog

__all__ = ["Partition", "TABLE", "WIDTH", "convert", "holding", "is_partitioned",
           "partitions", "revert", "rotate"]

TABLE = "sending_sendinglog"
WIDTH = 1 << 36
LOG = PartitionedLog(TABLE, WIDTH, MONTH)

is_partitioned = LOG.is_partitioned
convert = LOG.convert  # the migration (sending.0008)
revert = LOG.revert
partitions = LOG.partitions
rotate = LOG.rotate  # the periodic job
holding = LOG.holding
