"""Personalization: the Liquid environment, what a template may refer to, and the
content hash that approval freezes.

Templates are checked when saved and at preparation (syntax, unknown fields, unknown
filters, the file tags ``include`` and ``render``, each with line and column). What only
a profile's values can break (``divided_by`` a missing attribute) fails that recipient's
message alone at send time (:mod:`envoi.sending.render`); an attribute that a profile
lacks otherwise renders empty. Every render runs within the limits of
:mod:`envoi.deliveries.liquid`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from liquid import BoundTemplate
from liquid.exceptions import LiquidError

from envoi.deliveries.liquid import FILE_TAGS, LimitedEnvironment
from envoi.deliveries.models import Delivery, Recurrence

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "language", "timezone")
# What a link's target may depend on: a click re-renders it from the profile alone.
PROFILE_GLOBALS = frozenset({*PROFILE_FIELDS, "attributes"})
# Names a template may use at its top level.
# preferences_url: the preference centre of envoi.consent.
TEMPLATE_GLOBALS = PROFILE_GLOBALS | {"unsubscribe_url", "mirror_url", "preferences_url"}
TEMPLATE_FIELDS = ("subject", "html_body", "text_body")

environment = LimitedEnvironment()


@dataclass(frozen=True)
class TemplateProblem:
    field: str
    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.field}, line {self.line}, column {self.column}: {self.message}"


def line_and_column(source: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset (past the end: the last char)."""
    if index < 0 or index > len(source):
        index = len(source)
    before = source[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return line, column


def check_template(field: str, source: str) -> list[TemplateProblem]:
    """Syntax errors, unknown fields and unknown filters of one template."""
    try:
        template = environment.from_string(source)
    except LiquidError as error:
        index = error.token.start_index if error.token is not None else -1
        return [TemplateProblem(field, _syntax_message(error),
                                *line_and_column(source, index))]
    analysis = template.analyze()
    problems = [
        TemplateProblem(field, f'unknown field "{name}"; known fields: '
                        + ", ".join(sorted(TEMPLATE_GLOBALS)),
                        *line_and_column(source, variables[0].span.index))
        for name, variables in analysis.globals.items() if name not in TEMPLATE_GLOBALS
    ]
    problems += [
        TemplateProblem(field, f'unknown filter "{name}"',
                        *line_and_column(source, spans[0].index))
        for name, spans in analysis.filters.items() if name not in environment.filters
    ]
    return problems


def _syntax_message(error: LiquidError) -> str:
    token = error.token
    if token is not None and token.kind == "tag" and token.value in FILE_TAGS:
        return (f"{{% {token.value} %}} is not supported: it loads a template from a "
                "file, and a delivery has none; write its content here instead")
    return str(error.message or error)


def uses_variable(source: str, name: str) -> bool:
    try:
        return name in environment.from_string(source).analyze().globals
    except LiquidError:
        return False


DIVIDING_FILTERS = frozenset({"divided_by", "modulo"})
"""Filters that fail the render when their argument is missing or zero."""


@dataclass(frozen=True)
class AttributeDivisor:
    """``… | divided_by: attributes.<name>`` in a template, at ``index``."""

    attribute: str
    filter: str
    index: int


def attribute_divisors(source: str) -> list[AttributeDivisor]:
    """Every dividing filter whose divisor is a profile attribute: a profile without
    it (or with 0) fails to render."""
    try:
        template = environment.from_string(source)
    except LiquidError:
        return []
    found = []
    for expression in _expressions(template.nodes):
        for liquid_filter in _filters(expression):
            if liquid_filter.name not in DIVIDING_FILTERS:
                continue
            for argument in liquid_filter.args:
                attribute = _attribute_name(getattr(argument, "value", None))
                if attribute is not None:
                    found.append(AttributeDivisor(attribute, liquid_filter.name,
                                                  liquid_filter.token.start_index))
    return found


def _expressions(nodes: Iterable[Any]) -> Iterator[Any]:
    for node in nodes:
        yield from node.expressions()
        yield from _expressions(node.children(None, include_partials=False))


def _filters(expression: Any) -> Iterator[Any]:
    yield from getattr(expression, "filters", None) or ()
    yield from getattr(expression, "tail_filters", None) or ()
    for child in expression.children():
        yield from _filters(child)


def _attribute_name(expression: Any) -> str | None:
    segments = getattr(expression, "path", None)
    if (isinstance(segments, list) and len(segments) == 2 and segments[0] == "attributes"
            and isinstance(segments[1], str)):
        return segments[1]
    return None


@dataclass(frozen=True)
class CompiledContent:
    subject: BoundTemplate
    html: BoundTemplate | None
    text: BoundTemplate | None


@lru_cache(maxsize=64)
def compile_content(subject: str, html: str, text: str) -> CompiledContent:
    """Parsed templates, cached: a worker renders thousands of messages from one parse."""
    return CompiledContent(
        subject=environment.from_string(subject),
        html=environment.from_string(html) if html else None,
        text=environment.from_string(text) if text else None,
    )


def recurrence_snapshot(delivery: Delivery) -> dict | None:
    found = Recurrence.objects.filter(delivery_id=delivery.pk).first()
    if found is None:
        return None
    return {"cron": found.cron, "aggregation": found.aggregation,
            "request_confirmation": found.request_confirmation,
            "ends_at": found.ends_at.isoformat() if found.ends_at else None}


def audience_definition(delivery: Delivery) -> dict | None:
    """The audience as approval sees it: a saved filter's text, a static list's identity
    (its members may change; which list it is may not)."""
    audience = delivery.audience
    if audience is None:
        return None
    return {"id": audience.pk, "name": audience.name, "kind": audience.kind,
            "filter": audience.filter}


def _variants(delivery: Delivery) -> list[dict]:
    from envoi.content.authoring import variant_dicts

    return variant_dicts(delivery)


def content_hash(delivery: Delivery) -> str:
    """What approval freezes: every input that shapes the messages and their recipients."""
    audience = delivery.audience
    frozen = {
        "sender": delivery.sender,
        "reply_to": delivery.reply_to,
        "subject": delivery.subject,
        "html_body": delivery.html_body,
        "text_body": delivery.text_body,
        # Every language variant, and how the content is written (envoi.content).
        "content_mode": delivery.content_mode,
        "preheader": delivery.preheader,
        "mjml_body": delivery.mjml_body,
        "variants": _variants(delivery),
        "audience_id": delivery.audience_id,
        "audience_filter": audience.filter if audience else None,
        "is_marketing": delivery.is_marketing,
        # The schedule is part of what is approved (SPEC §2).
        "contact_date": delivery.contact_date.isoformat() if delivery.contact_date else None,
        "time_zone": delivery.time_zone,
        "recipient_time_zone": delivery.recipient_time_zone,
        "recurrence": recurrence_snapshot(delivery),
    }
    # Written only when on, so deliveries prepared before the setting existed (off)
    # keep the hash their approval was given for.
    if delivery.require_consent:
        frozen["require_consent"] = True
    if delivery.track_links:  # the same for SMS's short tracked links
        frozen["track_links"] = True
    return hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()


def snapshot_drift(delivery: Delivery) -> str | None:
    """Which snapshot no longer describes the delivery: ``"prepared"`` (it changed since
    preparation), ``"approved"`` (it was prepared again since approval), or None."""
    if delivery.prepared_hash != content_hash(delivery):
        return "prepared"
    approved = delivery.approval.get("content_hash")
    if approved and approved != delivery.prepared_hash:
        return "approved"
    return None
