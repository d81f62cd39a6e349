"""Targeting (SPEC §3): resolve the audience and apply the exclusions in set-based SQL.

One statement classifies every targeted profile into a temporary table (eligible, or
excluded with a reason); two ``INSERT … SELECT`` then fill the sending log and the
exclusion log. No profile row ever travels through Python, so a million profiles take
seconds, not minutes, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from envoi.audiences.filters import compile_filter
from envoi.audiences.models import Audience
from envoi.bounces.models import QuarantineStatus
from envoi.preparation.models import ExclusionReason

R = ExclusionReason

# A pragmatic address syntax check, evaluated by the database (PostgreSQL `~`, SQLite
# REGEXP through Django's registered function). Internationalized addresses are refused.
ADDRESS_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

# Reasons and statuses are fixed enum values written into the statement; the address
# pattern and the audience's own values are parameters.
_CLASSIFY = """
INSERT INTO prep_target (profile_id, address, reason)
WITH base AS (
    SELECT p.id, TRIM(p.email) AS address, LOWER(TRIM(p.email)) AS address_key,
        CASE
            WHEN TRIM(p.email) = '' THEN '{missing}'
            WHEN NOT (TRIM(p.email) {regex} %s) THEN '{invalid}'
            WHEN p.email_opt_out THEN '{denylisted}'
            WHEN q.status = '{q_denylisted}' THEN '{denylisted}'
            WHEN q.status = '{q_quarantined}' THEN '{quarantined}'
        END AS reason
    FROM audiences_profile p
    LEFT JOIN bounces_quarantine q
        ON q.channel = 'email' AND q.address = LOWER(TRIM(p.email))
        AND q.status IN ('{q_denylisted}', '{q_quarantined}')
    WHERE NOT p.is_test AND ({audience})
)
SELECT id, address,
    CASE WHEN reason IS NULL
         AND ROW_NUMBER() OVER (PARTITION BY address_key, reason ORDER BY id) > 1
    THEN '{duplicate}' ELSE reason END
FROM base
"""

_FILL_SENDING_LOG = """
INSERT INTO sending_sendinglog (delivery_id, profile_id, address, status, failure_type,
    failure_reason, smtp_reply, attempts, claimed_by, message_id)
SELECT %s, profile_id, address, 'pending', '', '', '', 0, '', ''
FROM prep_target WHERE reason IS NULL ORDER BY profile_id
"""

_FILL_EXCLUSION_LOG = """
INSERT INTO preparation_exclusionlog (delivery_id, profile_id, address, reason)
SELECT %s, profile_id, COALESCE(address, ''), reason
FROM prep_target WHERE reason IS NOT NULL
"""


@dataclass(frozen=True)
class TargetCounts:
    targeted: int
    to_deliver: int
    exclusions: dict[str, int]


def audience_condition(audience: Audience) -> tuple[str, list]:
    """The audience as a boolean SQL condition over ``audiences_profile p``."""
    if audience.kind == Audience.LIST:
        return ("p.id IN (SELECT profile_id FROM audiences_audiencemember "
                "WHERE audience_id = %s)", [audience.pk])
    compiled = compile_filter(audience.filter, connection.vendor, alias="p")
    return compiled.sql, list(compiled.params)


def build_target(delivery_id: int, audience: Audience) -> TargetCounts:
    """Fill the sending and exclusion logs of a delivery. Call inside a transaction."""
    audience_sql, audience_params = audience_condition(audience)
    classify = _CLASSIFY.format(
        regex="~" if connection.vendor == "postgresql" else "REGEXP",
        audience=audience_sql,
        missing=R.ADDRESS_MISSING, invalid=R.ADDRESS_INVALID, denylisted=R.DENYLISTED,
        quarantined=R.QUARANTINED, duplicate=R.DUPLICATE,
        q_denylisted=QuarantineStatus.DENYLISTED, q_quarantined=QuarantineStatus.QUARANTINED,
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS prep_target")
        cursor.execute("CREATE TEMPORARY TABLE prep_target "
                       "(profile_id BIGINT, address TEXT, reason TEXT)")
        cursor.execute(classify, [ADDRESS_PATTERN, *audience_params])
        cursor.execute(_FILL_SENDING_LOG, [delivery_id])
        cursor.execute(_FILL_EXCLUSION_LOG, [delivery_id])
        cursor.execute("SELECT reason, COUNT(*) FROM prep_target GROUP BY reason")
        counts = dict(cursor.fetchall())
        cursor.execute("DROP TABLE prep_target")
    to_deliver = counts.pop(None, 0)
    return TargetCounts(targeted=to_deliver + sum(counts.values()), to_deliver=to_deliver,
                        exclusions=counts)
