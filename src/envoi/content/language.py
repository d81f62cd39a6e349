"""Which language variant a profile receives: the rule of the targeting SQL
(:func:`envoi.preparation.targeting.variant_choice`), for one profile in Python."""

from __future__ import annotations

from collections.abc import Iterable


def variant_of(profile_language: str, languages: Iterable[str]) -> str:
    """The variant for a profile's ``language``: the most specific variant equal to it
    or to its base (``ko`` for ``ko-KR``); ``''`` (the default) when none."""
    wanted = profile_language.strip().lower()
    for language in sorted((lang for lang in languages if lang), key=len, reverse=True):
        if wanted == language or wanted.startswith(language + "-"):
            return language
    return ""
