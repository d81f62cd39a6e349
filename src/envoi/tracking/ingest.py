"""Recording tracking events, and keeping each message's engagement up to date.

A batch of events is stored in one transaction: the events themselves (COPY on
PostgreSQL, one ``executemany`` on SQLite), then one set-based upsert of
``MessageEngagement`` where every column only ever moves to an *earlier* time. Taking
the minimum makes the result independent of the order events arrive in and of how
they are split into batches: feeding any permutation of any split gives the same rows
that :func:`envoi.reporting.kpis.rebuild_engagement` computes from scratch.

What counts as what (SPEC §6): a click, a mirror view or an unsubscribe also proves
the message was opened, so every event kind sets ``opened_at``; the ``human_*``
columns consider only events not flagged ``machine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from envoi.tracking.models import EventKind

EVENT_COLUMNS = ("row_id", "delivery_id", "profile_id", "kind", "link_index", "url",
                 "at", "user_agent", "machine")

# Engagement column -> (event kinds that set it, None for every kind; human events only).
# Every kind sets opened_at: a click, mirror view or unsubscribe proves an open.
ENGAGEMENT_RULES: dict[str, tuple[frozenset[str] | None, bool]] = {
    "opened_at": (None, False),
    "human_opened_at": (None, True),
    "clicked_at": (frozenset({EventKind.CLICK}), False),
    "human_clicked_at": (frozenset({EventKind.CLICK}), True),
    "mirrored_at": (frozenset({EventKind.MIRROR}), False),
    "unsubscribed_at": (frozenset({EventKind.UNSUBSCRIBE}), False),
}
ENGAGEMENT_COLUMNS = tuple(ENGAGEMENT_RULES)
ENGAGEMENT_LOCK = 0x656E6765  # advisory-lock namespace of engagement rows: "enge"


@dataclass(frozen=True)
class Event:
    """One tracking event as the HTTP endpoints saw it, tied to its sending-log row."""

    row_id: int
    delivery_id: int
    profile_id: int
    kind: str  # an EventKind value: open | click | mirror | unsubscribe
    at: datetime
    link_index: int | None = None
    url: str = ""
    user_agent: str = ""
    machine: bool = False


def record_events(events: Sequence[Event]) -> None:
    """Store ``events`` and fold them into their messages' engagement, atomically."""
    if not events:
        return
    with transaction.atomic():
        lock_engagement({event.delivery_id for event in events})
        _insert_events(events)
        _upsert_engagement(engagement_of(events))


def lock_engagement(delivery_ids: Iterable[int], exclusive: bool = False) -> None:
    """PostgreSQL: hold these deliveries' engagement locks until the transaction ends.

    Recording takes them shared (batches never wait for each other); the rebuild of
    Compute stats takes its delivery's exclusively, so no event of that delivery can
    commit between the rebuild's reading of the events and its writing of the rows.
    SQLite runs one writing transaction at a time, which already guarantees as much.
    """
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(  # the two-int4 key space: (namespace, delivery id folded to int4)
            f"SELECT {function}(%s, (d %% 2147483647)::int) FROM unnest(%s::bigint[]) AS d",
            [ENGAGEMENT_LOCK, sorted(delivery_ids)])


def counts_towards(column: str, kind: str, machine: bool) -> bool:
    """Whether an event of ``kind`` may set engagement ``column`` (SPEC §6)."""
    kinds, human_only = ENGAGEMENT_RULES[column]
    return (kinds is None or kind in kinds) and not (human_only and machine)


def engagement_columns(kind: str, machine: bool) -> tuple[str, ...]:
    """The engagement columns one event of ``kind`` may set."""
    return tuple(column for column in ENGAGEMENT_COLUMNS
                 if counts_towards(column, kind, machine))


def first_time_sql(column: str) -> str:
    """SQL aggregate over ``tracking_trackingevent`` giving a message's ``column``: the
    earliest time of the events that count towards it (for the from-scratch rebuild)."""
    kinds, human_only = ENGAGEMENT_RULES[column]
    conditions = []
    if kinds is not None:
        conditions.append(f"kind IN ({', '.join(repr(str(k)) for k in sorted(kinds))})")
    if human_only:
        conditions.append("NOT machine")
    if not conditions:
        return "MIN(at)"
    return f"MIN(CASE WHEN {' AND '.join(conditions)} THEN at END)"


def engagement_of(events: Iterable[Event]) -> dict[int, dict[str, Any]]:
    """Per row id: its delivery id and the earliest time of each engagement column."""
    rows: dict[int, dict[str, Any]] = {}
    for event in events:
        row = rows.setdefault(event.row_id, {"delivery_id": event.delivery_id})
        for column in engagement_columns(event.kind, event.machine):
            if row.get(column) is None or event.at < row[column]:
                row[column] = event.at
    return rows


def _insert_events(events: Sequence[Event]) -> None:
    table = "tracking_trackingevent"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_sql = f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for event in events:
                    copy.write_row(_event_values(event))
        else:
            placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})",
                [_event_values(event, adapt=True) for event in events])


def _event_values(event: Event, adapt: bool = False) -> tuple:
    at = connection.ops.adapt_datetimefield_value(event.at) if adapt else event.at
    return (event.row_id, event.delivery_id, event.profile_id, str(event.kind),
            event.link_index, event.url, at, event.user_agent[:500], event.machine)


def earliest(column: str, table: str = "tracking_messageengagement") -> str:
    """SQL keeping the earlier of the stored and the incoming value of ``column``;
    NULL means "not yet", so it never wins over a time. Portable: SQLite's
    two-argument MIN() and PostgreSQL's LEAST() disagree on NULLs."""
    stored, incoming = f"{table}.{column}", f"excluded.{column}"
    return (f"CASE WHEN {stored} IS NULL OR {incoming} < {stored} "
            f"THEN {incoming} ELSE {stored} END")


def _upsert_engagement(rows: dict[int, dict[str, Any]]) -> None:
    """One upsert for all rows, in row-id order so that concurrent batches touching
    the same messages lock them in the same order (no deadlock)."""
    columns = ("row_id", "delivery_id", *ENGAGEMENT_COLUMNS)
    updates = ", ".join(f"{column} = {earliest(column)}" for column in ENGAGEMENT_COLUMNS)
    conflict = f"ON CONFLICT (row_id) DO UPDATE SET {updates}"
    ordered = [rows[row_id] | {"row_id": row_id} for row_id in sorted(rows)]
    insert = f"INSERT INTO tracking_messageengagement ({', '.join(columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ("bigint", "bigint", *["timestamptz"] * len(ENGAGEMENT_COLUMNS))
            arrays = ", ".join(f"%s::{kind}[]" for kind in types)
            cursor.execute(f"{insert} SELECT * FROM unnest({arrays}) {conflict}",
                           [[row.get(column) for row in ordered] for column in columns])
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"{insert} VALUES ({placeholders}) {conflict}",
                [[row["row_id"], row["delivery_id"],
                  *[adapt(row.get(column)) for column in ENGAGEMENT_COLUMNS]]
                 for row in ordered])
