"""Preparation of SMS deliveries: targeting by phone, the SMS control rules, and the
parts each recipient's message takes.

Targeting keeps the shape of email's (:mod:`envoi.preparation.targeting`): profiles are
classified into ``prep_target`` in SQL, except for one step that SQL cannot do: reading
each phone number with libphonenumber, in its profile's country
(:mod:`envoi.audiences.phones`). That pass costs ~20 µs a profile (2 s per 100,000).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils.translation import gettext_noop

from envoi.audiences.models import Audience
from envoi.audiences.phones import region_of, to_e164
from envoi.bounces.models import QuarantineStatus
from envoi.consent.sql import exclusion_cases
from envoi.deliveries.liquid import PersonalizationError
from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, WARNING, Finding
from envoi.preparation.models import ExclusionReason as R
from envoi.preparation.targeting import audience_condition, variant_choice
from envoi.words import Words

CHANNEL = "sms"

_CLASSIFY = """
INSERT INTO prep_target (profile_id, address, zone, variant, reason)
SELECT p.id, TRIM(p.phone), p.timezone, {variant},
    CASE WHEN TRIM(p.phone) = '' THEN %s WHEN p.sms_opt_out THEN %s {consent} END
FROM audiences_profile p
WHERE NOT p.is_test AND ({audience}) {not_in_log}
"""
_NOT_IN_LOG = ("AND p.id NOT IN (SELECT profile_id FROM sending_sendinglog "
               "WHERE delivery_id = %s)")

_QUARANTINE = """
UPDATE prep_target SET reason = CASE (
    SELECT q.status FROM bounces_quarantine q
    WHERE q.channel = '{channel}' AND q.address = prep_target.address
      AND q.status IN ('{denylisted}', '{quarantined}'))
    WHEN '{denylisted}' THEN '{r_denylisted}' WHEN '{quarantined}' THEN '{r_quarantined}' END
WHERE reason IS NULL AND address IN (
    SELECT address FROM bounces_quarantine
    WHERE channel = '{channel}' AND status IN ('{denylisted}', '{quarantined}'))
"""

_DUPLICATES = """
UPDATE prep_target SET reason = %s
WHERE reason IS NULL AND profile_id NOT IN (
    SELECT MIN(profile_id) FROM prep_target WHERE reason IS NULL GROUP BY address)
"""


def classify_sms(cursor, delivery_id: int, audience: Audience, top_up: bool,
                 languages: list[str], require_consent: bool = False) -> None:
    """Every targeted profile into ``prep_target`` by its phone in E.164: eligible, or
    excluded for a missing, invalid or duplicate phone, an opt-out, or a denylisted or
    quarantined number."""
    audience_sql, audience_params = audience_condition(audience)
    variant_sql, variant_params = variant_choice(languages)
    consent_sql, consent_params = exclusion_cases(CHANNEL, connection.vendor,
                                                  require_consent=require_consent)
    cursor.execute(_CLASSIFY.format(variant=variant_sql, audience=audience_sql,
                                    consent=consent_sql,
                                    not_in_log=_NOT_IN_LOG if top_up else ""),
                   [*variant_params, R.PHONE_MISSING, R.SMS_OPT_OUT, *consent_params,
                    *audience_params, *([delivery_id] if top_up else [])])
    _normalize_phones(cursor)
    cursor.execute(_QUARANTINE.format(
        channel=CHANNEL, denylisted=QuarantineStatus.DENYLISTED,
        quarantined=QuarantineStatus.QUARANTINED, r_denylisted=R.DENYLISTED,
        r_quarantined=R.QUARANTINED))
    if top_up:
        cursor.execute("UPDATE prep_target SET reason = %s WHERE reason IS NULL AND address "
                       "IN (SELECT address FROM sending_sendinglog WHERE delivery_id = %s)",
                       [R.DUPLICATE, delivery_id])
    cursor.execute(_DUPLICATES, [R.DUPLICATE])


def _normalize_phones(cursor) -> None:
    country = ("p.attributes ->> 'country'" if connection.vendor == "postgresql"
               else "json_extract(p.attributes, '$.country')")
    cursor.execute(f"SELECT t.profile_id, t.address, {country} FROM prep_target t "  # noqa: S608
                   "JOIN audiences_profile p ON p.id = t.profile_id WHERE t.reason IS NULL")
    changes: list[tuple[str, str | None, int]] = []
    for profile_id, raw, region in cursor.fetchall():
        e164 = to_e164(raw, region_of({"country": region}))
        if e164 is None:
            changes.append((raw, R.PHONE_INVALID.value, profile_id))
        elif e164 != raw:
            changes.append((e164, None, profile_id))
    if changes:
        cursor.executemany("UPDATE prep_target SET address = %s, reason = %s "
                           "WHERE profile_id = %s", changes)


# -- control rules ---------------------------------------------------------------------

_LIQUID = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
# A short code or a number (digits, maybe a leading +), or an alphanumeric sender ID
# of at most 11 characters (GSM 03.40).
_SENDER = re.compile(r"^(\+?[0-9]{3,15}|[A-Za-z0-9 ._&-]{1,11})$")


def sender_problem(sender: str) -> str | None:
    if not _SENDER.match(sender.strip()):
        return ("sender: an SMS sender is a short code, a phone number (up to 15 digits) "
                "or an alphanumeric ID of at most 11 characters")
    return None


def findings(delivery: Delivery) -> list[Finding]:
    """The SMS control rules: a text, a sender the SMSC takes, Liquid that parses."""
    return list(_findings(delivery))


def _findings(delivery: Delivery) -> Iterator[Finding]:
    from envoi.deliveries.content import check_template
    from envoi.sending.channels.sms.links import variant_texts

    if not delivery.text_body.strip():
        yield Finding(ERROR, "content.empty", Words(gettext_noop("The SMS has no text.")),
                      "text_body")
    problem = sender_problem(delivery.sender)
    if problem:
        yield Finding(ERROR, "sender.invalid", problem, "sender")
    for language, text in variant_texts(delivery):
        if language and text == delivery.text_body:
            continue  # it sends the default's text, checked already
        name = f"variants.{language}.text_body" if language else "text_body"
        for template_problem in check_template(name, text):
            yield Finding(ERROR, "personalization",
                          Words("%(field)s: %(problem)s", field=name,
                                problem=template_problem.message),
                          "text_body", template_problem.line, template_problem.column)
    if delivery.is_marketing and "stop" not in _LIQUID.sub("", delivery.text_body).lower():
        yield Finding(WARNING, "sms.no_opt_out",
                      Words(gettext_noop("A marketing SMS should say how to opt out (reply "
                                         "STOP).")), "text_body")


# -- parts ------------------------------------------------------------------------------

@dataclass
class PartCounts:
    minimum: int = 0
    maximum: int = 0
    total: int = 0
    unrendered: int = 0  # messages that could not be rendered (counted at sending)
    by_variant: dict[str, PartCounts] = field(default_factory=dict)

    def add(self, parts: int) -> None:
        self.minimum = parts if not self.total else min(self.minimum, parts)
        self.maximum = max(self.maximum, parts)
        self.total += parts

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {"min": self.minimum, "max": self.maximum,
                                  "total": self.total}
        if set(self.by_variant) - {""}:  # language variants: each one's counts too
            counts["by_variant"] = {language: counted.as_dict()
                                    for language, counted in sorted(self.by_variant.items())}
        return counts


def count_parts(delivery: Delivery) -> PartCounts:
    """Render every recipient's message of the sending log, in its language variant and
    with its short links when the delivery tracks them, and count its parts: for the
    whole delivery and per variant (``""`` the default)."""
    from envoi.sending.channels.sms.render import SmsRenderer
    from envoi.sending.worker import load_profiles

    renderer = SmsRenderer(delivery)
    counts = PartCounts()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, profile_id, address, variant FROM sending_sendinglog "
                       "WHERE delivery_id = %s ORDER BY id", [delivery.pk])
        rows = cursor.fetchall()
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        profiles = load_profiles(profile_id for _, profile_id, _, _ in chunk)
        for row_id, profile_id, address, variant in chunk:
            try:
                parts = len(renderer.render(row_id, address, profiles.get(profile_id, {}),
                                            variant=variant or "").parts)
            except PersonalizationError:
                counts.unrendered += 1
                continue
            counts.add(parts)
            counts.by_variant.setdefault(variant or "", PartCounts()).add(parts)
    return counts


def parts_findings(delivery: Delivery, parts: PartCounts) -> list[Finding]:
    """The red rule on the parts one message may take (``max_parts``; 0: no limit)."""
    if delivery.max_parts and parts.maximum > delivery.max_parts:
        return [Finding(ERROR, "sms.too_many_parts",
                        Words(gettext_noop("A message takes up to %(parts)s parts; this "
                                           "delivery allows %(allowed)s (max_parts)."),
                              parts=parts.maximum, allowed=delivery.max_parts), "text_body")]
    return []
