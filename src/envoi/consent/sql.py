"""Consent as preparation needs it: ``CASE`` branches over ``audiences_profile p``.

Preparation classifies every targeted profile in one statement
(:mod:`envoi.preparation.targeting`); these branches add the consent rules to it,
so no profile travels through Python:

* an erased address (:class:`~envoi.consent.models.Suppression`) is excluded, whatever
  the delivery's setting, until the person consents again;
* with ``require_consent``, a profile without granted consent on the channel is too.

Both give the reason ``no_consent``.
"""

from __future__ import annotations

from typing import Any

from envoi.consent import hashing
from envoi.consent.models import ConsentStatus, Purpose, Suppression

NO_CONSENT = "no_consent"
ADDRESS_COLUMN = {"email": "p.email", "sms": "p.phone"}


def exclusion_cases(channel: str, vendor: str, *, require_consent: bool
                    ) -> tuple[str, list[Any]]:
    """``WHEN … THEN 'no_consent'`` branches, and their parameters (in order)."""
    cases: list[str] = []
    params: list[Any] = []
    if Suppression.objects.filter(channel=channel).exists():  # else skip the hashing
        hashed, hash_params = hashing.sql_expression(ADDRESS_COLUMN[channel], vendor)
        cases.append(f"WHEN {hashed} IN (SELECT address_hash FROM consent_suppression "
                     f"WHERE channel = %s) THEN '{NO_CONSENT}'")
        params += [*hash_params, channel]
    if require_consent:
        cases.append(f"WHEN NOT EXISTS (SELECT 1 FROM consent_consent c "
                     f"WHERE c.profile_id = p.id AND c.channel = %s "
                     f"AND c.purpose = '{Purpose.MARKETING}' AND c.status = "
                     f"'{ConsentStatus.GRANTED}') THEN '{NO_CONSENT}'")
        params.append(channel)
    return "\n            ".join(cases), params


def night_consent_condition(channel: str, profile_column: str = "t.profile_id"
                            ) -> tuple[str, tuple[Any, ...]]:
    """True for a profile whose night-time advertising consent on ``channel`` is granted
    (the night hold of ``kr_advertising`` skips it), and its parameters."""
    return (f"{profile_column} IN (SELECT c.profile_id FROM consent_consent c "
            f"WHERE c.channel = %s AND c.purpose = '{Purpose.NIGHT}' "
            f"AND c.status = '{ConsentStatus.GRANTED}')", (channel,))
