"""Anonymising the exclusion log of a delivery, with its sending log
(:mod:`envoi.sending.retention`): the reasons and their counts stay, the address and
the profile go."""

from __future__ import annotations

from envoi.preparation.models import ExclusionLog

DETACHED_PROFILE = 0  # as envoi.sending.models.DETACHED_PROFILE: no profile has it


def anonymise_exclusions(delivery_id: int) -> int:
    """Detach the delivery's exclusion rows from their profiles; how many."""
    return (ExclusionLog.objects.filter(delivery_id=delivery_id)
            .exclude(profile_id=DETACHED_PROFILE)
            .update(address="", profile_id=DETACHED_PROFILE))
