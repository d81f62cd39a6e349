"""Rebuilding a delivery's engagement rows from its tracking events (Compute stats).

The result is what the events say, from scratch: rows no event supports are deleted,
and every other row gets exactly the first times its events give, whatever was stored
(the incremental path only ever moves times earlier; this also corrects a row after
events were purged). Events removed by retention count through their roll-up, so the
result does not change when they go. The rules of what counts as what are
:data:`envoi.tracking.ingest.ENGAGEMENT_RULES`, shared with the incremental path.

* **PostgreSQL** — one statement: the events aggregated per message, a FULL JOIN with
  the stored rows, then delete the unsupported rows and upsert the missing or differing
  ones. When the incremental path kept up (the usual case) nothing is written, so the
  cost is one ordered read of the events. The delivery's engagement lock is held
  exclusively meanwhile (:func:`envoi.tracking.ingest.lock_engagement`): an event
  committed after the statement's snapshot could otherwise be overwritten.
* **SQLite** — DELETE, then INSERT … SELECT, in one transaction: SQLite runs one
  writer at a time, and the embedded shape's deliveries are small.
"""

from __future__ import annotations

from django.db import connection, transaction

from envoi.tracking.ingest import ENGAGEMENT_COLUMNS, first_time_sql, lock_engagement

COLUMNS = ", ".join(ENGAGEMENT_COLUMNS)
FIRST_TIMES = ", ".join(f"{first_time_sql(column)} AS {column}"
                        for column in ENGAGEMENT_COLUMNS)
OVERWRITE = ", ".join(f"{column} = excluded.{column}"
                      for column in ("delivery_id", *ENGAGEMENT_COLUMNS))
TABLE = "tracking_messageengagement"

EARLIEST = ", ".join(f"MIN({column}) AS {column}" for column in ENGAGEMENT_COLUMNS)

# Parameters: the delivery id, twice. The events still kept, and the roll-up of those
# that aged out (envoi.tracking.retention): the earliest of both is what all the events
# said, so removing events never changes the result.
_FRESH = f"""
SELECT row_id, {EARLIEST} FROM (
    SELECT row_id, {FIRST_TIMES} FROM tracking_trackingevent
    WHERE delivery_id = %s GROUP BY row_id
    UNION ALL
    SELECT row_id, {COLUMNS} FROM tracking_eventrollup WHERE delivery_id = %s
) AS found GROUP BY row_id
"""


def _differs(left: str, right: str) -> str:
    return (f"({', '.join(f'{left}.{c}' for c in ENGAGEMENT_COLUMNS)}) IS DISTINCT FROM "
            f"({', '.join(f'{right}.{c}' for c in ENGAGEMENT_COLUMNS)})")


# Parameters: the delivery id, four times.
_REWRITE_DIFFERENCES = f"""
WITH fresh AS ({_FRESH}),
stored AS (SELECT row_id, {COLUMNS} FROM {TABLE} WHERE delivery_id = %s),
differing AS MATERIALIZED (
    SELECT f.row_id, s.row_id AS stored_row_id, {', '.join(f'f.{c}' for c in ENGAGEMENT_COLUMNS)}
    FROM fresh f FULL JOIN stored s ON s.row_id = f.row_id
    WHERE f.row_id IS NULL OR s.row_id IS NULL OR {_differs('s', 'f')}
),
unsupported AS (
    DELETE FROM {TABLE}
    WHERE row_id IN (SELECT stored_row_id FROM differing WHERE row_id IS NULL)
)
INSERT INTO {TABLE} (row_id, delivery_id, {COLUMNS})
SELECT row_id, %s, {COLUMNS} FROM differing WHERE row_id IS NOT NULL
ON CONFLICT (row_id) DO UPDATE SET {OVERWRITE}
"""

# Parameters: the delivery id, three times. "WHERE true" keeps SQLite from reading ON CONFLICT
# as the ON of a join (the parsing ambiguity its UPSERT documentation describes).
_REWRITE_ALL = f"""
INSERT INTO {TABLE} (row_id, delivery_id, {COLUMNS})
SELECT row_id, %s, {COLUMNS} FROM ({_FRESH}) AS fresh WHERE true
ON CONFLICT (row_id) DO UPDATE SET {OVERWRITE}
"""


def rebuild_engagement(delivery_id: int) -> None:
    """Make the delivery's engagement rows exactly what its tracking events say."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            lock_engagement([delivery_id], exclusive=True)
            cursor.execute(_REWRITE_DIFFERENCES, [delivery_id] * 4)
        else:
            cursor.execute(f"DELETE FROM {TABLE} WHERE delivery_id = %s", [delivery_id])
            cursor.execute(_REWRITE_ALL, [delivery_id] * 3)
