"""The set-based upsert behind CSV imports: stage every valid row, then merge in a few
statements.

Rows are streamed into a temporary staging table (COPY on PostgreSQL, batched
``executemany`` on SQLite), then matched and written with one statement per step, whatever
the file's size. The whole import is one transaction: a failure writes nothing.

Matching, in order:

1. a row with an ``external_id`` matches the profile that has it;
2. otherwise a row matches by address, case-insensitive and trimmed (``lower(trim(email))``,
   indexed as ``profile_email_key``). A row with an ``external_id`` only adopts a profile
   that has none yet; a row without one matches any.

Addresses are not unique in the table: installations created before upserts may hold the
same address several times. A unique index would fail to build on such data, and merging
the copies would rewrite their sending history, so neither is done: a match takes the
oldest profile with the address and the copies are left as they are. Imports never add a
new copy: on PostgreSQL they hold a transaction-level advisory lock while they merge (two
concurrent imports of the same address cannot both create it), and SQLite has one
writer.

Within one file, rows that resolve to the same profile (or to the same new address or
external id) are merged: the last one wins and the earlier ones are reported as skipped.

Attributes are merged key by key at the top level: a column sets its key and leaves the
profile's other attributes alone. An empty cell leaves the stored value unchanged.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from envoi.audiences.importer import ImportReport, Progress
    from envoi.audiences.models import Audience

PLAIN_FIELDS = ("phone", "first_name", "last_name", "language", "timezone",
                "email_opt_out", "sms_opt_out", "is_test")  # fmt: skip
STAGE_COLUMNS = ("line", "external_id", "email", "email_key", *PLAIN_FIELDS, "attributes")
STAGE = "envoi_import_stage"
ROWS = "envoi_import_rows"
TEMP_BUFFERS = "256MB"  # the staged rows resolved: profile, winner, created
# The merge's hashes and its sort hold every staged row: with the default 4 MB they spill
# to disk in batches (a million-row UPDATE took half again as long).
WORK_MEM = "256MB"
# Any number both PostgreSQL and the imports agree on; the name is only for readers.
IMPORT_LOCK_KEY = 0x656E766F69  # "envoi"
_BOOLEANS = ("email_opt_out", "sms_opt_out", "is_test")
MATCHED_COLUMNS = ("s.line, s.external_id, s.email_key, "
                   "(s.email IS NOT NULL OR s.phone IS NOT NULL) AS addressable")
_CREATE_STAGE = f"""
CREATE TEMPORARY TABLE {STAGE} (
    line INTEGER NOT NULL {{line_key}}, external_id VARCHAR(200), email VARCHAR(320),
    email_key VARCHAR(320), phone VARCHAR(32), first_name VARCHAR(150),
    last_name VARCHAR(150), language VARCHAR(16), timezone VARCHAR(64),
    email_opt_out BOOLEAN, sms_opt_out BOOLEAN, is_test BOOLEAN, attributes TEXT
)"""


def run(rows: Iterable[tuple], report: ImportReport, *, audience: Audience | None,
        mode: str, batch_size: int, progress: Progress | None) -> None:
    """Stage ``rows`` (tuples of :data:`STAGE_COLUMNS`) and merge them into profiles."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _raise_temp_buffers(cursor)
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            # Compiling the few big statements costs more than it saves (0.4 s each).
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"DROP TABLE IF EXISTS {ROWS}")
        # SQLite joins the resolved rows back by line through this key (its rowid);
        # PostgreSQL hashes them, and would only pay for an index while COPYing.
        line_key = "" if connection.vendor == "postgresql" else "PRIMARY KEY"
        cursor.execute(_CREATE_STAGE.format(line_key=line_key))
        try:
            _stage(cursor, rows, batch_size, progress)
            _Merge(cursor, report, audience, mode).run()
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cursor.execute(f"DROP TABLE IF EXISTS {ROWS}")


def _raise_temp_buffers(cursor) -> None:
    """Temporary tables live in the session's own buffers, 8 MB by default: a million
    staged rows would go to disk page by page. PostgreSQL takes a new size only before
    the session's first temporary table (a preparation in the same session made one):
    after that it refuses, and the import goes on with the buffers it has."""
    try:
        with transaction.atomic():  # a savepoint: the refusal leaves the import intact
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        pass


# Staging --------------------------------------------------------------------------------


def _stage(cursor: Any, rows: Iterable[tuple], batch_size: int,
           progress: Progress | None) -> None:
    insert = (f"INSERT INTO {STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES "
              f"({', '.join(['%s'] * len(STAGE_COLUMNS))})")
    with contextlib.ExitStack() as stack:
        copy = None
        if connection.vendor == "postgresql":
            copy = stack.enter_context(cursor.cursor.copy(
                f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN"))
        for batch in _batches(rows, batch_size):
            if copy is not None:
                for row in batch:
                    copy.write_row(row)
            else:
                cursor.executemany(insert, batch)
            if progress is not None:
                progress(batch[-1][0] - 1)  # the header is line 1


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# Merging --------------------------------------------------------------------------------


class _Merge:
    """The statements of one merge, in order; each counts what it did into the report."""

    def __init__(self, cursor: Any, report: ImportReport, audience: Audience | None,
                 mode: str) -> None:
        self.cursor = cursor
        self.report = report
        self.audience = audience
        self.mode = mode
        self.postgres = connection.vendor == "postgresql"
        self.stamp = connection.ops.adapt_datetimefield_value(timezone.now())

    def run(self) -> None:
        self.lock()
        if self.postgres:
            self.execute(f"ANALYZE {STAGE}")
        self.resolve()
        self.report_repeats()
        self.report_matches()
        self.reject_unmatched_without_address()
        if self.mode == "update":
            self.update()
        self.insert()
        if self.audience is not None:
            self.join_list()

    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        self.cursor.execute(sql, list(params))
        return int(self.cursor.rowcount)

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        self.cursor.execute(sql, list(params))
        return self.cursor.fetchone()[0]

    def lock(self) -> None:
        """Serialise merges: on PostgreSQL with an advisory lock held to the commit; on
        SQLite by taking the write lock now (a write, even of no rows, takes it)."""
        if self.postgres:
            self.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
        else:
            self.execute("UPDATE audiences_profile SET id = id WHERE 0 = 1")

    def resolve(self) -> None:
        """One statement writes the resolved rows to a second table (rewriting the staging
        table row by row in UPDATEs costs several times more on PostgreSQL). That table
        is narrow, a line and what was decided for it: the writes below join it back to
        the staged values, which is cheaper than sorting and copying them all here.

        Rows meaning the same profile share a group: the external id first (so one
        external id ends on one profile), else the profile matched, else the address; a
        row with none of them is its own group. The group's last line wins. A winner
        that matched nothing and has an address is created, with its id drawn now."""
        matched, params = self.match_sql()
        new_id, id_params = self.new_id_sql()
        self.execute(f"""
            CREATE TEMPORARY TABLE {ROWS} AS
            WITH matched AS ({matched}),
            grouped AS (
                SELECT m.*, CASE
                    WHEN external_id IS NOT NULL THEN 'x' || external_id
                    WHEN matched_id IS NOT NULL THEN 'p' || CAST(matched_id AS VARCHAR(20))
                    WHEN email_key IS NOT NULL THEN 'e' || email_key
                    ELSE 'l' || CAST(line AS VARCHAR(20)) END {self.binary} AS grp
                FROM matched m),
            ranked AS (
                SELECT g.*, MAX(line) OVER (PARTITION BY grp) AS last_line FROM grouped g),
            flagged AS (
                SELECT line, external_id, addressable, matched_id, last_line,
                       line = last_line AS winner,
                       (line = last_line AND matched_id IS NULL AND addressable) AS created
                FROM ranked r)
            SELECT f.*, CASE WHEN created THEN {new_id} ELSE matched_id END AS profile_id
            FROM flagged f""", [*params, *id_params])

    @property
    def binary(self) -> str:
        """Groups are compared, never shown: bytewise, whatever the database's collation."""
        return 'COLLATE "C"' if self.postgres else "COLLATE BINARY"

    def match_sql(self) -> tuple[str, list[Any]]:
        """The oldest profile with the external id, else with the address; a profile
        with an external_id of its own is another record for rows that name one."""
        if self.postgres:
            # One hash join of the file's addresses to the profiles' beats a million
            # index probes. Without external ids, joining on them would still read every
            # profile.
            by_external_id = ("LEFT JOIN audiences_profile x ON x.external_id = s.external_id"
                              if self.has_external_ids() else
                              "LEFT JOIN (SELECT NULL::bigint AS id) x ON false")
            return f"""
                SELECT {MATCHED_COLUMNS},
                       COALESCE(x.id, CASE WHEN s.external_id IS NULL THEN e.any_id
                                           ELSE e.unowned_id END) AS matched_id
                FROM {STAGE} s
                {by_external_id}
                LEFT JOIN (
                    SELECT LOWER(TRIM(p.email)) AS email_key, MIN(p.id) AS any_id,
                           MIN(p.id) FILTER (WHERE p.external_id IS NULL) AS unowned_id
                    FROM audiences_profile p
                    WHERE LOWER(TRIM(p.email)) IN (SELECT email_key FROM {STAGE})
                    GROUP BY 1) e ON e.email_key = s.email_key""", []
        # SQLite: an index probe per row. The unary + drops the column's text affinity,
        # without which SQLite ignores the expression index and scans every profile for
        # every row.
        return f"""
            SELECT {MATCHED_COLUMNS}, COALESCE(
                (SELECT x.id FROM audiences_profile x WHERE x.external_id = s.external_id),
                (SELECT MIN(p.id) FROM audiences_profile p
                 WHERE LOWER(TRIM(p.email)) = +s.email_key
                   AND (s.external_id IS NULL OR p.external_id IS NULL))) AS matched_id
            FROM {STAGE} s""", []

    def has_external_ids(self) -> bool:
        return bool(self.scalar(
            f"SELECT EXISTS (SELECT 1 FROM {STAGE} WHERE external_id IS NOT NULL)"))

    def new_id_sql(self) -> tuple[str, list[Any]]:
        """Ids for new profiles: the sequence's next values on PostgreSQL; on SQLite,
        whose write lock this transaction holds, the numbers past the largest id."""
        if self.postgres:
            return "nextval(pg_get_serial_sequence('audiences_profile', 'id'))", []
        base = self.scalar("""
            SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence
                                 WHERE name = 'audiences_profile'), 0),
                       COALESCE((SELECT MAX(id) FROM audiences_profile), 0))""")
        return "%s + SUM(created) OVER (ORDER BY line ROWS UNBOUNDED PRECEDING)", [base]

    def report_repeats(self) -> None:
        repeated = self.scalar(f"SELECT COUNT(*) FROM {ROWS} WHERE NOT winner")
        self.report.skipped += repeated
        if not repeated:
            return
        self.cursor.execute(f"SELECT line, last_line FROM {ROWS} WHERE NOT winner "
                            "ORDER BY line LIMIT %s", [_room(self.report)])
        for line, later in self.cursor.fetchall():
            self.report.note(line, _("the same profile appears again on line %(line)d, "
                                     "which is the one imported") % {"line": later})

    def report_matches(self) -> None:
        """In ``skip`` and ``add`` modes a match is left alone; ``add`` lists them."""
        if self.mode == "update":
            return
        matched = self.scalar(
            f"SELECT COUNT(*) FROM {ROWS} WHERE winner AND matched_id IS NOT NULL")
        self.report.skipped += matched
        if self.mode != "add" or not matched:
            return
        self.cursor.execute(f"""
            SELECT line, matched_id FROM {ROWS} WHERE winner AND matched_id IS NOT NULL
            ORDER BY line LIMIT %s""", [_room(self.report)])
        for line, profile_id in self.cursor.fetchall():
            self.report.note(line, _("profile %(id)d already exists; this import adds new "
                                     "profiles only") % {"id": profile_id})

    def update(self) -> None:
        assignments = ", ".join(
            [f"{name} = COALESCE(s.{name}, audiences_profile.{name})"
             for name in ("external_id", "email", *PLAIN_FIELDS)]
            + [f"attributes = {self.merged_attributes()}", "updated_at = %s"])
        self.report.updated += self.execute(f"""
            UPDATE audiences_profile SET {assignments}
            FROM {STAGE} s JOIN {ROWS} r ON r.line = s.line
            WHERE r.winner AND r.matched_id = audiences_profile.id""", [self.stamp])

    def merged_attributes(self) -> str:
        if self.postgres:
            return ("CASE WHEN s.attributes IS NULL THEN audiences_profile.attributes "
                    "ELSE audiences_profile.attributes || s.attributes::jsonb END")
        connection.connection.create_function("envoi_merge_attributes", 2,
                                              _merge_attributes, deterministic=True)
        return "envoi_merge_attributes(audiences_profile.attributes, s.attributes)"

    def insert(self) -> None:
        """The new profiles, with the ids :meth:`resolve` drew, so the list can be filled
        from the resolved rows."""
        columns = ("id", "external_id", "email", *PLAIN_FIELDS, "attributes", "created_at",
                   "updated_at")
        defaults = [f"COALESCE(s.{name}, %s)" for name in PLAIN_FIELDS]
        attributes = "COALESCE(s.attributes, '{}')" + ("::jsonb" if self.postgres else "")
        params = [False if name in _BOOLEANS else "" for name in PLAIN_FIELDS]
        self.report.created += self.execute(f"""
            INSERT INTO audiences_profile ({', '.join(columns)})
            SELECT r.profile_id, s.external_id, COALESCE(s.email, ''), {', '.join(defaults)},
                   {attributes}, %s, %s
            FROM {STAGE} s JOIN {ROWS} r ON r.line = s.line
            WHERE r.created ORDER BY s.line""", [*params, self.stamp, self.stamp])

    def reject_unmatched_without_address(self) -> None:
        """A row naming only an external_id can update a profile, not create one."""
        unmatched = f"FROM {ROWS} WHERE winner AND matched_id IS NULL AND NOT addressable"
        count = self.scalar(f"SELECT COUNT(*) {unmatched}")
        if not count:
            return
        self.report.error_count += count
        self.cursor.execute(f"SELECT line, external_id {unmatched} ORDER BY line LIMIT %s",
                            [_room(self.report)])
        for line, external_id in self.cursor.fetchall():
            self.report.note(line, _('no address, and no profile has external_id '
                                     '"%(id)s" to update') % {"id": external_id})

    def join_list(self) -> None:
        assert self.audience is not None
        joining = "created" if self.mode == "add" else "winner AND profile_id IS NOT NULL"
        self.execute(f"""
            INSERT INTO audiences_audiencemember (audience_id, profile_id)
            SELECT %s, s.profile_id FROM {ROWS} s
            WHERE {joining} AND NOT EXISTS (
                SELECT 1 FROM audiences_audiencemember m
                WHERE m.audience_id = %s AND m.profile_id = s.profile_id)""",
                     [self.audience.pk, self.audience.pk])


def _room(report: ImportReport) -> int:
    from envoi.audiences.importer import MAX_REPORTED_ERRORS

    return max(0, MAX_REPORTED_ERRORS - len(report.errors))


def _merge_attributes(stored: str | None, given: str | None) -> str | None:
    """SQLite's top-level merge (PostgreSQL's ``jsonb || jsonb``): ``json_patch`` would
    merge nested objects too, and drop keys set to null."""
    if given is None:
        return stored
    merged = json.loads(stored) if stored else {}
    if not isinstance(merged, dict):
        merged = {}
    merged.update(json.loads(given))
    return json.dumps(merged, ensure_ascii=False)
