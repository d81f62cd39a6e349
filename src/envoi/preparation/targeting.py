"""Targeting (SPEC §3): resolve the audience and apply the exclusions in set-based SQL.

One statement classifies every targeted profile into a temporary table (eligible, or
excluded with a reason); two ``INSERT … SELECT`` then fill the sending log and the
exclusion log. No profile row ever travels through Python, so a million profiles take
seconds, not minutes, on SQLite and PostgreSQL alike.

In the recipient's-time-zone mode each row gets its own due time: Python computes one
instant per distinct profile time zone (a few hundred at most) into a second temporary
table, and the sending log is filled through a join on it. A hold some profiles are
exempt from (:class:`HeldRowTime`: Korean advertising at night, unless the profile
consented to it) keeps both instants per zone, and the fill picks one per row with an
SQL condition over the profile. A *top-up* (later runs of
an aggregated recurring delivery) targets only the profiles not yet in the sending log,
and counts an address already there as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import DatabaseError, connection, transaction

from envoi.audiences.addresses import ADDRESS_PATTERN
from envoi.audiences.filters import compile_filter
from envoi.audiences.models import Audience
from envoi.bounces.models import QuarantineStatus
from envoi.consent.sql import exclusion_cases
from envoi.deliveries.models import Delivery
from envoi.preparation.models import ExclusionReason
from envoi.sending import partitions as sending_partitions
from envoi.sending.queue import widen_span

R = ExclusionReason
log = logging.getLogger("envoi.preparation")

# Rows added at once past which PostgreSQL's statistics of the sending log are refreshed.
ANALYZE_AFTER_ROWS = 1000


# Reasons and statuses are fixed enum values written into the statement; the address
# pattern and the audience's own values are parameters.
_CLASSIFY = """
INSERT INTO prep_target (profile_id, address, zone, variant, reason)
WITH base AS (
    SELECT p.id, TRIM(p.email) AS address, LOWER(TRIM(p.email)) AS address_key,
        p.timezone AS zone, {variant} AS variant,
        CASE
            WHEN TRIM(p.email) = '' THEN '{missing}'
            WHEN NOT (TRIM(p.email) {regex} %s) THEN '{invalid}'
            WHEN p.email_opt_out THEN '{denylisted}'
            WHEN q.status = '{q_denylisted}' THEN '{denylisted}'
            WHEN q.status = '{q_quarantined}' THEN '{quarantined}'
            {consent}
            {already_sent_to}
        END AS reason
    FROM audiences_profile p
    LEFT JOIN bounces_quarantine q
        ON q.channel = 'email' AND q.address = LOWER(TRIM(p.email))
        AND q.status IN ('{q_denylisted}', '{q_quarantined}')
    WHERE NOT p.is_test AND ({audience}) {not_in_log}
)
SELECT id, address, zone, variant,
    CASE WHEN reason IS NULL
         AND ROW_NUMBER() OVER (PARTITION BY address_key, reason ORDER BY id) > 1
    THEN '{duplicate}' ELSE reason END
FROM base
"""

# A top-up leaves out the profiles already in the log and treats their addresses as
# taken (the parameters: the delivery's id, once in each fragment).
_ALREADY_SENT_TO = """WHEN LOWER(TRIM(p.email)) IN (SELECT LOWER(address)
                FROM sending_sendinglog WHERE delivery_id = %s) THEN '{duplicate}'"""
_NOT_IN_LOG = ("AND p.id NOT IN (SELECT profile_id FROM sending_sendinglog "
               "WHERE delivery_id = %s)")

_FILL_SENDING_LOG = """
INSERT INTO sending_sendinglog (delivery_id, profile_id, address, status, failure_type,
    failure_reason, smtp_reply, attempts, claimed_by, message_id, next_attempt_at, variant)
SELECT %s, profile_id, address, 'pending', '', '', '', 0, '', '', {due}, variant
FROM prep_target t {join} WHERE reason IS NULL ORDER BY profile_id
"""

_FILL_EXCLUSION_LOG = """
INSERT INTO preparation_exclusionlog (delivery_id, profile_id, address, reason)
SELECT %s, profile_id, COALESCE(address, ''), reason
FROM prep_target WHERE reason IS NOT NULL
"""


# The instant a row is due, from its profile's time zone name ("" when it has none).
RowTime = Callable[[str], datetime]


@dataclass(frozen=True)
class HeldRowTime:
    """Due instants with a hold: ``held`` for most rows, ``awake`` for the rows whose
    profile satisfies ``exempt`` (an SQL condition over ``t.profile_id``, with
    ``exempt_params``)."""

    held: RowTime
    awake: RowTime
    exempt: str
    exempt_params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TargetCounts:
    targeted: int
    to_deliver: int
    exclusions: dict[str, int]
    variants: dict[str, int] = field(default_factory=dict)  # to deliver, per variant
    first_due: datetime | None = None  # per-row due times, when they were set
    last_due: datetime | None = None


def audience_condition(audience: Audience) -> tuple[str, list]:
    """The audience as a boolean SQL condition over ``audiences_profile p``."""
    if audience.kind == Audience.LIST:
        return ("p.id IN (SELECT profile_id FROM audiences_audiencemember "
                "WHERE audience_id = %s)", [audience.pk])
    compiled = compile_filter(audience.filter, connection.vendor, alias="p")
    return compiled.sql, list(compiled.params)


def variant_choice(languages: list[str]) -> tuple[str, list[str]]:
    """The language variant of profile ``p`` as an SQL expression ('' is the default):
    a variant matches its language and the regional forms of it (``ko`` takes
    ``ko-KR``); a more specific variant (``pt-br``) wins over a broader one (``pt``)."""
    if not languages:
        return "''", []
    branches, params = [], []
    for language in sorted(languages, key=len, reverse=True):
        branches.append("WHEN LOWER(TRIM(p.language)) = %s "
                        "OR LOWER(TRIM(p.language)) LIKE %s THEN %s")
        params += [language, f"{language}-%", language]
    return f"CASE {' '.join(branches)} ELSE '' END", params


def build_target(delivery_id: int, audience: Audience, *,
                 row_time: RowTime | HeldRowTime | None = None,
                 top_up: bool = False, keep_rows: bool = True,
                 languages: list[str] | None = None, channel: str = "email",
                 require_consent: bool = False) -> TargetCounts:
    """Fill the sending and exclusion logs of a delivery. Call inside a transaction.

    ``row_time`` gives each row its own due time (recipient's time zone); ``top_up``
    adds only profiles not yet in the sending log (aggregated recurring runs); without
    ``keep_rows`` only the counts and exclusions are kept (a recurring delivery's own
    preparation: its executions send, never the parent). Each row is given its
    profile's variant among ``languages`` (:func:`variant_choice`). Each channel
    classifies the profiles by its own address (:data:`CLASSIFIERS`). With
    ``require_consent`` a profile without recorded consent on the channel is excluded as
    ``no_consent``; an erased address always is (:mod:`envoi.consent.sql`).
    """
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS prep_target")
        cursor.execute("CREATE TEMPORARY TABLE prep_target "
                       "(profile_id BIGINT, address TEXT, zone TEXT, variant TEXT, "
                       "reason TEXT)")
        CLASSIFIERS[channel](cursor, delivery_id, audience, top_up, languages or [],
                             require_consent)
        return _fill_logs(cursor, delivery_id, row_time, keep_rows)


def classify_email(cursor, delivery_id: int, audience: Audience, top_up: bool,
                   languages: list[str], require_consent: bool = False) -> None:
    """Every targeted profile into ``prep_target`` by its email address, in one
    statement: eligible, or excluded with a reason."""
    audience_sql, audience_params = audience_condition(audience)
    variant_sql, variant_params = variant_choice(languages)
    top_up_params = [delivery_id] if top_up else []
    consent_sql, consent_params = exclusion_cases("email", connection.vendor,
                                                  require_consent=require_consent)
    classify = _CLASSIFY.format(
        regex="~" if connection.vendor == "postgresql" else "REGEXP",
        audience=audience_sql, variant=variant_sql, consent=consent_sql,
        already_sent_to=_ALREADY_SENT_TO.format(duplicate=R.DUPLICATE) if top_up else "",
        not_in_log=_NOT_IN_LOG if top_up else "",
        missing=R.ADDRESS_MISSING, invalid=R.ADDRESS_INVALID, denylisted=R.DENYLISTED,
        quarantined=R.QUARANTINED, duplicate=R.DUPLICATE,
        q_denylisted=QuarantineStatus.DENYLISTED, q_quarantined=QuarantineStatus.QUARANTINED,
    )
    cursor.execute(classify, [*variant_params, ADDRESS_PATTERN, *consent_params,
                              *top_up_params, *audience_params, *top_up_params])


def _fill_logs(cursor, delivery_id: int, row_time: RowTime | HeldRowTime | None,
               keep_rows: bool) -> TargetCounts:
    """The sending and exclusion logs from ``prep_target``, and the counts."""
    due = _due_times(cursor, row_time) if row_time else []
    due_sql, due_params = "z.due" if due else "NULL", []
    if due and isinstance(row_time, HeldRowTime):
        due_sql = f"CASE WHEN {row_time.exempt} THEN z.awake ELSE z.due END"
        due_params = list(row_time.exempt_params)
    fill = _FILL_SENDING_LOG.format(
        due=due_sql,
        join="JOIN prep_due z ON z.zone = COALESCE(t.zone, '')" if due else "")
    if keep_rows:
        cursor.execute(fill, [delivery_id, *due_params])
        widen_span(cursor, delivery_id)
    cursor.execute(_FILL_EXCLUSION_LOG, [delivery_id])
    cursor.execute("SELECT reason, COUNT(*) FROM prep_target GROUP BY reason")
    counts = dict(cursor.fetchall())
    cursor.execute("SELECT variant, COUNT(*) FROM prep_target WHERE reason IS NULL "
                   "GROUP BY variant")
    per_variant = dict(cursor.fetchall())
    cursor.execute("DROP TABLE prep_target")
    cursor.execute("DROP TABLE IF EXISTS prep_due")
    to_deliver = counts.pop(None, 0)
    if keep_rows and to_deliver >= ANALYZE_AFTER_ROWS:
        transaction.on_commit(partial(refresh_planner_statistics, delivery_id))
    return TargetCounts(targeted=to_deliver + sum(counts.values()), to_deliver=to_deliver,
                        exclusions=counts, variants=per_variant,
                        first_due=min(due, default=None),
                        last_due=max(due, default=None))


def _classify_sms(cursor, delivery_id: int, audience: Audience, top_up: bool,
                  languages: list[str], require_consent: bool = False) -> None:
    from envoi.preparation.sms import classify_sms

    classify_sms(cursor, delivery_id, audience, top_up, languages, require_consent)


Classifier = Callable[[Any, int, Audience, bool, list[str], bool], None]
CLASSIFIERS: dict[str, Classifier] = {"email": classify_email, "sms": _classify_sms}
"""How each channel fills ``prep_target``: the address it sends to, and why a profile
is excluded."""


def refresh_planner_statistics(delivery_id: int) -> None:
    """ANALYZE the sending log after a large preparation (PostgreSQL).

    Until autovacuum gets to it, the planner believes the statistics of before the
    bulk insert: a handful of pending rows. Then recording a batch by id (``UPDATE …
    FROM unnest(ids)``) is planned as a hash join over *every* pending row through the
    queue index instead of one primary-key lookup per row — a cost that grows with the
    delivery: 35 ms per batch of 200 among 100,000 pending rows, and five times the
    database's CPU per message at 200,000 recipients (``docs/BENCHMARKS.md``). Sampling
    takes a fraction of a second, after the preparation has committed.

    A partitioned log (:mod:`envoi.sending.partitions`) has only the partitions holding
    the delivery's rows analysed: the queue's statements are planned over those alone,
    with their own statistics, and the months before need no new sample.
    """
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            for table in _tables_holding(delivery_id):
                cursor.execute(f"ANALYZE {table}")
    except DatabaseError:  # statistics are an optimization: autovacuum catches up
        log.exception("could not analyze the sending log")


def _tables_holding(delivery_id: int) -> list[str]:
    first, last = Delivery.objects.filter(pk=delivery_id).values_list(
        "log_first_id", "log_last_id").get()
    if first is None or last is None or not sending_partitions.is_partitioned():
        return [sending_partitions.TABLE]
    return [partition.name for partition in sending_partitions.holding(first, last)]


def _plain(row_time: RowTime | HeldRowTime) -> RowTime:
    return row_time.held if isinstance(row_time, HeldRowTime) else row_time


def _anyone_exempt(cursor, row_time: HeldRowTime) -> bool:
    """Whether an eligible profile escapes the hold (else its instants are not written,
    and the delivery's first due time stays the held one)."""
    cursor.execute(f"SELECT 1 FROM prep_target t WHERE reason IS NULL "  # noqa: S608
                   f"AND {row_time.exempt} LIMIT 1", list(row_time.exempt_params))
    return cursor.fetchone() is not None


def _due_times(cursor, row_time: RowTime | HeldRowTime) -> list[datetime]:
    """One due instant per distinct time zone of the eligible profiles (and, under a
    hold, the instant without it), in ``prep_due``; every instant written."""
    cursor.execute("SELECT DISTINCT COALESCE(zone, '') FROM prep_target "
                   "WHERE reason IS NULL")
    names = [zone for (zone,) in cursor.fetchall()]
    held = awake = _plain(row_time)
    if isinstance(row_time, HeldRowTime) and _anyone_exempt(cursor, row_time):
        awake = row_time.awake
    zones = {zone: (held(zone), awake(zone)) for zone in names}
    column = "TIMESTAMP WITH TIME ZONE" if connection.vendor == "postgresql" else "TEXT"
    cursor.execute("DROP TABLE IF EXISTS prep_due")
    cursor.execute(f"CREATE TEMPORARY TABLE prep_due (zone TEXT, due {column}, "
                   f"awake {column})")
    adapt = connection.ops.adapt_datetimefield_value
    cursor.executemany("INSERT INTO prep_due (zone, due, awake) VALUES (%s, %s, %s)",
                       [(zone, adapt(due), adapt(early))
                        for zone, (due, early) in zones.items()])
    return sorted({instant for pair in zones.values() for instant in pair})
