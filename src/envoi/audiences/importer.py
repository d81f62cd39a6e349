"""Load profiles in bulk: CSV files from the console and the CLI, JSON lists from the API.

Imports are the largest writes Envoi makes (millions of rows), so the file is streamed,
each row is validated on its own, and valid rows are written set-based. A bad row is
reported with its line number and never stops the good ones; only a bad header stops the
whole file, before any write.

A CSV import is an *upsert* (see :mod:`envoi.audiences.upsert`): each row is matched to an
existing profile by ``external_id`` when the file has one, else by its address
(case-insensitive, trimmed), and the import's mode decides what happens to a match:
``update`` (the default), ``skip`` or ``add`` (add only; matches are reported). Attribute
columns are typed (:mod:`envoi.audiences.attribute_types`).

An email address must look like one (the syntax preparation checks, ``ADDRESS_PATTERN``)
and a row needs an email or a phone: otherwise the row is refused with its line. The JSON
list of the API creates profiles as given; preparation then excludes invalid addresses
with the reason "address invalid".
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import operator
import re
import sqlite3
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from envoi.audiences import attribute_types, upsert
from envoi.audiences.addresses import is_address
from envoi.audiences.csvreading import CsvFileError, CsvReader, Record
from envoi.audiences.filters import ATTRIBUTE_KEY
from envoi.audiences.models import Audience

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "language", "timezone",
                  "email_opt_out", "sms_opt_out", "is_test")  # fmt: skip
INSERT_COLUMNS = (*PROFILE_FIELDS, "attributes", "created_at", "updated_at")
MAX_REPORTED_ERRORS = 10_000
DEFAULT_BATCH_SIZE = 5000
MODES = ("update", "skip", "add")
_KNOWN_COLUMNS = ", ".join(["external_id", *PROFILE_FIELDS, "attributes",
                            "attributes.<key>[:type]"])
_TEXT_LIMITS = {"email": 320, "phone": 32, "first_name": 150, "last_name": 150,
                "external_id": 200}
_UNSAFE_IN_HEADERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_BOOLEAN_WORDS = {"": False, "true": True, "false": False, "1": True, "0": False,
                  "yes": True, "no": False}  # fmt: skip
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_profile_values = operator.itemgetter(*PROFILE_FIELDS)
_DEFAULTS: dict[str, Any] = {name: "" for name in PROFILE_FIELDS[:6]} | {
    name: False for name in PROFILE_FIELDS[6:]
}


# The file as a whole cannot be imported (a bad header, say); nothing was written.
ImportFileError = CsvFileError


@dataclass
class RowError:
    """A rejected row: its physical CSV line (the header is line 1) or its 1-based index."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did. ``errors`` keeps the first 10,000 rows left out (rejected rows,
    and in ``add`` mode the rows that matched a profile); ``error_count`` counts every
    rejected row, ``skipped`` every row left out on purpose."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def imported(self) -> int:
        return self.created + self.updated

    @property
    def rejected(self) -> int:
        return self.error_count

    def add_error(self, line: int, reason: str) -> None:
        self.error_count += 1
        self.note(line, reason)

    def note(self, line: int, reason: str) -> None:
        """List a row left out without counting it as rejected."""
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, reason))

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped,
                "rejected": self.error_count}


Progress = Callable[[int], None]


# Public entry points --------------------------------------------------------------------


def import_profiles_csv(stream: IO[Any], *, audience: Audience | None = None,
                        batch_size: int = DEFAULT_BATCH_SIZE, encoding: str | None = None,
                        column_limit: int | None = None, mode: str = "update",
                        types: dict[str, str] | None = None,
                        mapping: list[str] | None = None,
                        progress: Progress | None = None) -> ImportReport:
    """Upsert a CSV whose header names Profile fields, ``external_id`` and
    ``attributes.<key>[:type]`` columns.

    ``stream`` holds bytes in ``encoding`` (UTF-8, EUC-KR/CP949 or Shift_JIS/CP932;
    detected when not given), or text already decoded. Memory stays bounded by
    ``batch_size`` whatever the file's size. ``mode`` is ``update``, ``skip`` or ``add``.
    ``types`` declares attribute types by column (``{"vip": "boolean"}``); undeclared
    attribute columns are inferred from the first rows. ``mapping`` replaces the header's
    names, one target per file column ("" leaves the column out). When ``audience`` (a
    static list) is given, every profile the file names joins it (in ``add`` mode, the new
    ones). ``progress`` is called with the number of data lines read so far. The header
    may hold at most ``column_limit`` columns (``ENVOI_IMPORT_MAX_COLUMNS`` if not given).
    """
    _require_static_list(audience)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if mode not in MODES:
        raise ValueError(_('unknown import mode "%(mode)s"; use update, skip or add')
                         % {"mode": str(mode)[:20]})
    report = ImportReport()
    reader = CsvReader(stream, report.add_error, encoding=encoding, column_limit=column_limit)
    header = reader.read_header()
    if mapping is None:
        columns, kinds = _read_header(header, types)
    else:
        columns, kinds = _read_header(_mapped(header, mapping), types, mapped=True)
    rows = _csv_rows(reader.records(), columns, report)
    typed = _typed_rows(rows, columns, kinds)
    staged = _staged_rows(typed, kinds, report)
    upsert.run(staged, report, audience=audience, mode=mode, batch_size=batch_size,
               progress=progress)
    return report


def _mapped(header: list[str], mapping: list[str]) -> list[str]:
    if len(mapping) != len(header):
        raise ImportFileError(_("The column mapping names %(given)d columns; the file has "
                                "%(found)d.") % {"given": len(mapping), "found": len(header)})
    return [target.strip() for target in mapping]


def create_profiles(rows: list[dict], *, audience: Audience | None = None) -> ImportReport:
    """Create profiles from API objects; a row's ``line`` in the report is its 1-based index."""
    _require_static_list(audience)
    report = ImportReport()
    _write_in_batches(_object_rows(rows, report), report, audience, DEFAULT_BATCH_SIZE)
    return report


def validate_profile_row(row: dict) -> dict:
    """Return the row's column values, cleaned; raise ValueError with a reason a user can act on.

    Keys are Profile fields, ``attributes`` (an object, or JSON text of one) and
    ``attributes.<key>[.<key>]`` (set inside ``attributes``; empty values are skipped).
    """
    clean = dict(_DEFAULTS)
    attributes: dict[str, Any] = {}
    dotted = []
    for name, value in row.items():
        cleaner = _CLEANERS.get(name)
        if cleaner is not None:
            clean[name] = cleaner(name, value)
        elif name == "attributes":
            attributes = _clean_attributes(value)
        elif isinstance(name, str) and name.startswith("attributes."):
            dotted.append((_attribute_path(name), value))
        else:
            raise ValueError(_('unknown field "%(field)s"; known fields: %(known)s')
                             % {"field": name, "known": _KNOWN_COLUMNS})
    if dotted:
        attributes = dict(attributes)
        for path, value in dotted:
            if value is not None and value != "":
                _set_attribute(attributes, path, value)
    clean["attributes"] = attributes
    return clean


# Field cleaners -------------------------------------------------------------------------


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise ValueError(_("%(field)s must be text") % {"field": name})


def _clean_contact_text(name: str, value: Any) -> str:
    """Email, phone and names end up in message headers: no line breaks, ever."""
    text = _text(name, value)
    if found := _UNSAFE_IN_HEADERS.search(text):
        if _UNPAIRED_SURROGATE.match(found.group()):
            raise ValueError(_("%(field)s is not valid Unicode text") % {"field": name})
        raise ValueError(_("%(field)s contains a line break or another control character")
                         % {"field": name})
    text = text.strip()
    if len(text) > _TEXT_LIMITS[name]:
        raise ValueError(_("%(field)s is longer than %(limit)d characters")
                         % {"field": name, "limit": _TEXT_LIMITS[name]})
    return text


def _clean_language(name: str, value: Any) -> str:
    text = _text(name, value).strip()
    if text and (len(text) > 16 or not _LANGUAGE_TAG.fullmatch(text)):
        raise ValueError(_("%(field)s %(value)s is not a language tag such as en, ko or pt-BR")
                         % {"field": name, "value": _shown(text)})
    return text


def _clean_timezone(name: str, value: Any) -> str:
    text = _text(name, value).strip()
    if text and text not in _known_timezones():
        raise ValueError(_("unknown %(field)s %(value)s; use an IANA name such as Asia/Seoul")
                         % {"field": name, "value": _shown(text)})
    return text


def _clean_boolean(name: str, value: Any) -> bool:
    if isinstance(value, str) and (word := value.strip().lower()) in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[word]
    if value is None or isinstance(value, bool) or (type(value) is int and value in (0, 1)):
        return bool(value)
    raise ValueError(_("%(field)s must be true, false, 1, 0, yes or no (empty means false), "
                       "not %(value)s") % {"field": name, "value": _shown(value)})


def _clean_attributes(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except json.JSONDecodeError as error:
            raise ValueError(_("attributes is not valid JSON: %(detail)s")
                             % {"detail": error.msg}) from None
        except RecursionError:
            raise ValueError(_("attributes is nested too deeply")) from None
    if not isinstance(value, dict):
        raise ValueError(_('attributes must be a JSON object, such as {"city": "Seoul"}'))
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(_("attributes cannot hold %(name)s: JSON has no such number")
                     % {"name": name})


_CLEANERS: dict[str, Callable[[str, Any], Any]] = {
    "email": _clean_contact_text, "phone": _clean_contact_text,
    "external_id": _clean_contact_text,
    "first_name": _clean_contact_text, "last_name": _clean_contact_text,
    "language": _clean_language, "timezone": _clean_timezone,
    "email_opt_out": _clean_boolean, "sms_opt_out": _clean_boolean, "is_test": _clean_boolean,
}  # fmt: skip


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=1024)
def _attribute_path(column: str) -> tuple[str, ...]:
    """``attributes.address.city`` → ``("address", "city")``, keyed as filters read them."""
    keys = tuple(column.split(".")[1:])
    for key in keys:
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError(_('"%(column)s": attribute keys start with a letter or _ and '
                               "hold only letters, digits, _ and -") % {"column": column})
    return keys


def _set_attribute(attributes: dict, path: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``path``, copying nested objects so the caller's stay untouched."""
    target = attributes
    for key in path[:-1]:
        child = target.get(key)
        target[key] = dict(child) if isinstance(child, dict) else {}
        target = target[key]
    target[path[-1]] = value


def _shown(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)[:60]
    return _UNPAIRED_SURROGATE.sub("\ufffd", shown)


def _database_values(clean: dict) -> tuple:
    """The row as INSERT_COLUMNS expects it, minus the timestamps the writer adds."""
    return (*_profile_values(clean), _encoded_attributes(clean["attributes"]))


def _encoded_attributes(attributes: dict) -> str:
    try:
        encoded = _JSON.encode(attributes) if attributes else "{}"
    except (TypeError, ValueError):
        raise ValueError(_("attributes can hold only JSON values (no NaN or Infinity)")
                         ) from None
    if "\\u0000" in encoded and _ESCAPED_NUL.search(encoded):
        raise ValueError(_("attributes cannot hold the NUL character"))
    if _UNPAIRED_SURROGATE.search(encoded):
        raise ValueError(_("%(field)s is not valid Unicode text") % {"field": "attributes"})
    return encoded


# Reading --------------------------------------------------------------------------------


def _read_header(header: list[str], types: dict[str, str] | None = None, *,
                 mapped: bool = False) -> tuple[list[str | None], dict[str, str]]:
    """The columns' names (``None`` for a column the mapping leaves out) and the declared
    attribute types, checked in one pass: each name is looked up among the names and
    dotted prefixes seen so far, so a wide header costs no more than its length."""
    columns: list[str | None] = []
    kinds: dict[str, str] = {}
    for index, cell in enumerate(header):
        name, kind = _column_name(cell, index, mapped)
        columns.append(name)
        if name is not None and name.startswith("attributes."):
            types = types or {}
            declared = kind or types.get(name) or types.get(name[len("attributes."):])
            if declared:
                kinds[name] = _checked_type(declared, name)
    seen: set[str] = set()
    first_with_prefix: dict[str, str] = {}  # "attributes.a" → first "attributes.a.<key>"
    for name in columns:
        if name is None:
            continue
        if name in seen:
            raise ImportFileError(_('Line 1 (the header): column "%(column)s" appears twice.')
                                  % {"column": name}, column=name)
        prefixes = _dotted_prefixes(name)
        other = next((prefix for prefix in prefixes if prefix in seen), None)
        other = other or first_with_prefix.get(name)
        if other is not None:
            raise ImportFileError(_('Line 1 (the header): columns "%(other)s" and "%(column)s" '
                                    "both set %(other)s.") % {"other": other, "column": name},
                                  column=name)
        seen.add(name)
        for prefix in prefixes:
            first_with_prefix.setdefault(prefix, name)
    return columns, kinds


def _checked_type(declared: str, column: str) -> str:
    try:
        return attribute_types.check_type(declared)
    except attribute_types.AttributeTypeError as error:
        raise ImportFileError(_("Line 1 (the header): %(column)s: %(reason)s")
                              % {"column": column, "reason": error}, column=column) from None


def _dotted_prefixes(name: str) -> list[str]:
    """``attributes.a.b.c`` → ``attributes.a``, ``attributes.a.b`` (the bare ``attributes``
    column may be combined with dotted ones: they are merged into it)."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(2, len(parts))]


def _column_name(cell: str, index: int, mapped: bool) -> tuple[str | None, str | None]:
    """(field name, declared type) of a header cell; an empty cell of a mapping is
    (None, None): that column is left out."""
    name = cell.lstrip("\ufeff").strip() if index == 0 else cell.strip()
    lowered = name.lower()
    if lowered in PROFILE_FIELDS or lowered in ("attributes", "external_id"):
        return lowered, None
    if lowered.startswith("attributes."):
        name, _colon, kind = name.partition(":")
        name = "attributes." + name[len("attributes.") :].strip()
        try:
            _attribute_path(name)
        except ValueError as error:
            raise ImportFileError(_("Line 1 (the header): %(reason)s") % {"reason": error},
                                  column=name) from None
        return name, kind.strip() or None
    if not name:
        if mapped:
            return None, None
        raise ImportFileError(_("Line 1 (the header): column %(number)d has no name.")
                              % {"number": index + 1})
    close = difflib.get_close_matches(lowered, PROFILE_FIELDS, n=1)
    if close:
        message = _('Line 1 (the header): unknown column "%(column)s" (did you mean '
                    "%(suggestion)s?); known columns: %(known)s")
    else:
        message = _('Line 1 (the header): unknown column "%(column)s"; known columns: '
                    "%(known)s")
    raise ImportFileError(message % {"column": name, "suggestion": close[0] if close else "",
                                     "known": _KNOWN_COLUMNS}, column=name)


def _csv_rows(records: Iterator[Record], columns: list[str | None],
              report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first physical line, row) per record; blank lines are skipped silently."""
    kept = [(index, name) for index, name in enumerate(columns) if name is not None]
    for record in records:
        fields = record.fields
        if not "".join(fields).strip():
            continue
        if len(fields) != len(columns):
            report.add_error(record.line, _("expected %(expected)d fields, found %(found)d")
                             % {"expected": len(columns), "found": len(fields)})
            continue
        yield record.line, {name: fields[index] for index, name in kept}


def _typed_rows(rows: Iterator[tuple[int, dict[str, str]]], columns: list[str | None],
                kinds: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows unchanged, once every attribute column has its type: the undeclared ones
    get the type all their values fit in the first rows (held meanwhile, so memory
    stays bounded by :data:`attribute_types.INFER_SAMPLE` rows)."""
    undeclared = [name for name in columns if name is not None
                  and name.startswith("attributes.") and name not in kinds]
    if not undeclared:
        yield from rows
        return
    sample = list(itertools.islice(rows, attribute_types.INFER_SAMPLE))
    for name in undeclared:
        kinds[name] = attribute_types.infer(row[name] for _line, row in sample)
    yield from sample
    yield from rows


def _staged_rows(rows: Iterable[tuple[int, dict[str, str]]], kinds: dict[str, str],
                 report: ImportReport) -> Iterator[tuple]:
    """Each valid row as :data:`upsert.STAGE_COLUMNS` wants it; each bad one reported.

    An empty cell is "not given" (None): it leaves the stored value unchanged on update
    and takes the field's default on creation."""
    for line, row in rows:
        try:
            yield (line, *_stage_values(row, kinds))
        except ValueError as error:
            report.add_error(line, str(error))


def _stage_values(row: dict[str, str], kinds: dict[str, str]) -> tuple:
    """:func:`validate_profile_row` fused with the staging of its result: the same checks
    in the same order (typed attribute cells, then each column in file order, then the
    address), so a bad row gets the same reason. A million rows make the general
    function's dictionaries the import's largest cost in Python (docs/BENCHMARKS.md,
    "Upsert import")."""
    cells = []
    for name, text in row.items():
        if not text or text.isspace():
            continue
        kind = kinds.get(name)
        cells.append((name, attribute_types.convert(name, kind, text) if kind else text))
    plain: dict[str, Any] = {}
    attributes: dict[str, Any] | None = None
    for name, value in cells:
        cleaner = _CLEANERS.get(name)
        if cleaner is not None:
            plain[name] = cleaner(name, value)
        elif name == "attributes":
            attributes = dict(_clean_attributes(value))
        else:  # "attributes.<key>…": the header admits no other name
            if attributes is None:
                attributes = {}
            _set_attribute(attributes, _attribute_path(name), value)
    email = plain.get("email")
    external_id = plain.get("external_id") or None
    if email is not None and not is_address(email):
        raise ValueError(_('email "%(address)s" is not a valid address')
                         % {"address": _UNPAIRED_SURROGATE.sub("\ufffd", email[:80])})
    if not (email or plain.get("phone") or external_id):
        raise ValueError(_("no address: the row needs an email or a phone"))
    encoded = None if attributes is None else _encoded_attributes(attributes)
    return (external_id, email, email.lower() if email else None,
            *[plain.get(name) for name in upsert.PLAIN_FIELDS], encoded)


def _object_rows(rows: list[Any], report: ImportReport) -> Iterator[tuple[int, dict]]:
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            report.add_error(index, _("expected an object of profile fields"))
        elif "external_id" in row:  # matching on it is the upsert's, which CSV imports run
            report.add_error(index, _("external_id is matched by CSV imports only "
                                      "(POST /api/v1/profiles/import)"))
        else:
            yield index, row


# Writing --------------------------------------------------------------------------------


def _write_in_batches(rows: Iterable[tuple[int, dict]], report: ImportReport,
                      audience: Audience | None, batch_size: int) -> None:
    batch: list[tuple] = []
    for line, row in rows:
        try:
            batch.append(_database_values(validate_profile_row(row)))
        except ValueError as error:
            report.add_error(line, str(error))
            continue
        if len(batch) >= batch_size:
            report.created += _write_batch(batch, audience)
            batch = []
    if batch:
        report.created += _write_batch(batch, audience)


def _write_batch(rows: list[tuple], audience: Audience | None) -> int:
    """Insert one batch atomically; raw SQL bypasses auto_now, so stamp the rows here."""
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    stamped = [(*row, stamp, stamp) for row in rows]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_postgresql(cursor, stamped, audience)
        else:
            _insert_sqlite(cursor, stamped, audience)
    return len(rows)


_COLUMN_LIST = ", ".join(INSERT_COLUMNS)


def _copy_postgresql(cursor: Any, rows: list[tuple], audience: Audience | None) -> None:
    """COPY is PostgreSQL's fastest load. Members need the new ids, so for a list the ids
    are drawn from the table's own sequence first and both tables are loaded by COPY."""
    if audience is None:
        _copy_rows(cursor, "audiences_profile", INSERT_COLUMNS, rows)
        return
    cursor.execute("SELECT nextval(pg_get_serial_sequence('audiences_profile', 'id')) "
                   "FROM generate_series(1, %s)", [len(rows)])
    ids = [pk for (pk,) in cursor.fetchall()]
    _copy_rows(cursor, "audiences_profile", ("id", *INSERT_COLUMNS),
               [(pk, *row) for pk, row in zip(ids, rows, strict=True)])
    _copy_rows(cursor, "audiences_audiencemember", ("audience_id", "profile_id"),
               [(audience.pk, pk) for pk in ids])


def _copy_rows(cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_sqlite(cursor: Any, rows: list[tuple], audience: Audience | None) -> None:
    single_row = "(" + ", ".join(["%s"] * len(INSERT_COLUMNS)) + ")"
    insert = f"INSERT INTO audiences_profile ({_COLUMN_LIST}) VALUES "
    if audience is None:
        cursor.executemany(insert + single_row, rows)
        return
    ids = _insert_returning_ids(cursor, insert, single_row, rows)
    cursor.executemany(
        "INSERT INTO audiences_audiencemember (audience_id, profile_id) VALUES (%s, %s)",
        [(audience.pk, pk) for pk in ids],
    )


def _insert_returning_ids(cursor: Any, insert: str, single_row: str,
                          rows: list[tuple]) -> list[int]:
    """Multi-row INSERT … RETURNING (SQLite 3.35+), as many rows per statement as SQLite
    takes parameters; older SQLite gets one statement per row and ``lastrowid``."""
    if sqlite3.sqlite_version_info < (3, 35, 0):
        ids = []
        for row in rows:
            cursor.execute(insert + single_row, row)
            ids.append(cursor.lastrowid)
        return ids
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    ids = []
    for chunk in _chunks(rows, max(1, limit // len(INSERT_COLUMNS))):
        cursor.execute(insert + ", ".join([single_row] * len(chunk)) + " RETURNING id",
                       [value for row in chunk for value in row])
        ids.extend(pk for (pk,) in cursor.fetchall())
    return ids


def _chunks(rows: list[tuple], size: int) -> Iterator[list[tuple]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _require_static_list(audience: Audience | None) -> None:
    if audience is not None and audience.kind != Audience.LIST:
        raise ValueError(_('audience "%(name)s" is a saved filter; only a static list can '
                           "receive imported profiles") % {"name": audience.name})
