"""PostgreSQL: the tracking log as a RANGE-partitioned table on its ``id``, one
partition per UTC day of recording, so that ageing events out drops whole partitions
(:mod:`envoi.partitions` says how; :mod:`envoi.tracking.retention` rolls a partition's
events up before it is dropped).

Each partition covers :data:`WIDTH` ids: 68 billion events a day before the next
partition, pre-created, takes over.
"""

from __future__ import annotations

from envoi.partitions import DAY, Partition, PartitionedLog

__all__ = ["Partition", "TABLE", "WIDTH", "closed_before", "convert", "drop",
           "is_partitioned", "partitions", "revert", "rotate"]

TABLE = "tracking_trackingevent"
WIDTH = 1 << 36
LOG = PartitionedLog(TABLE, WIDTH, DAY)

is_partitioned = LOG.is_partitioned
convert = LOG.convert  # the migration (tracking.0003)
revert = LOG.revert
partitions = LOG.partitions
rotate = LOG.rotate  # the periodic job
closed_before = LOG.closed_before
drop = LOG.drop
