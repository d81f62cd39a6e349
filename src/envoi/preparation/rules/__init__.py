"""Market rules (SPEC §12): rule sets a delivery names in its ``typology`` and that
preparation checks on top of the control rules, one file per rule set.

Each rule set is a function from a delivery to findings, red (``error``) or yellow
(``warning``), in the same shape as :mod:`envoi.preparation.control`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from envoi.deliveries.models import Delivery
from envoi.preparation.control import Finding

RuleSet = Callable[[Delivery], Iterator[Finding]]
TYPOLOGIES = ("kr_advertising", "jp_advertising", "bulk_sender")
_LIQUID = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
_TAGS = re.compile(r"<[^>]*>")


class TypologyError(ValueError):
    """A typology that names no rule set; faces answer 400."""


def clean_typology(names: Iterable[str]) -> list[str]:
    """The rule set names, each once, in the order of :data:`TYPOLOGIES`."""
    names = [str(name).strip() for name in names]
    unknown = sorted({name for name in names if name not in TYPOLOGIES})
    if unknown:
        raise TypologyError(_("typology: %(names)s is not a rule set (choose from "
                              "%(choices)s)") % {"names": ", ".join(unknown),
                                                 "choices": ", ".join(TYPOLOGIES)})
    return [name for name in TYPOLOGIES if name in names]


def default_typology() -> list[str]:
    """New deliveries' rule sets: ENVOI_DEFAULT_TYPOLOGY, none unless configured."""
    return clean_typology(re.split(r"[\s,]+", settings.ENVOI_DEFAULT_TYPOLOGY.strip())
                          if settings.ENVOI_DEFAULT_TYPOLOGY.strip() else [])


def suggested_typology(languages: Iterable[str]) -> list[str]:
    """Rule sets an audience's languages suggest: Korean and Japanese advertising."""
    by_language = {"ko": "kr_advertising", "ja": "jp_advertising"}
    found = {by_language[lang.split("-")[0].lower()] for lang in languages
             if lang and lang.split("-")[0].lower() in by_language}
    return [name for name in TYPOLOGIES if name in found]


def missing_suggestions(delivery: Delivery) -> list[str]:
    """Rule sets the audience's languages suggest that the delivery does not name."""
    from envoi.audiences.filters import FilterError
    from envoi.preparation.targeting import audience_condition

    if delivery.audience is None:
        return []
    try:
        condition, params = audience_condition(delivery.audience)
    except FilterError:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT p.language FROM audiences_profile p "  # noqa: S608
                       f"WHERE ({condition}) AND p.language <> ''", params)
        languages = [row[0] for row in cursor.fetchall()]
    return [name for name in suggested_typology(languages)
            if name not in (delivery.typology or [])]


def body_text(delivery: Delivery) -> str:
    """What a recipient reads in the body, tags and Liquid aside, for presence checks."""
    parts = [delivery.text_body, delivery.compiled_text, delivery.html_body,
             delivery.compiled_html]
    return " ".join(_TAGS.sub(" ", part) for part in parts if part)


def uses(delivery: Delivery, variable: str) -> bool:
    """Whether the body prints the Liquid variable (e.g. ``unsubscribe_url``)."""
    from envoi.deliveries.content import uses_variable

    return any(uses_variable(body, variable) for body in (
        delivery.html_body, delivery.text_body, delivery.compiled_html,
        delivery.compiled_text) if body)


def market_findings(delivery: Delivery) -> list[Finding]:
    """The findings of every rule set the delivery names."""
    from envoi.preparation.rules import bulk_sender, jp_advertising, kr_advertising

    rule_sets: dict[str, RuleSet] = {
        "kr_advertising": kr_advertising.findings,
        "jp_advertising": jp_advertising.findings,
        "bulk_sender": bulk_sender.findings,
    }
    findings: list[Finding] = []
    for name in delivery.typology or []:
        if name in rule_sets:
            findings.extend(rule_sets[name](delivery))
    return findings
