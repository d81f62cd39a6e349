"""Personalization: the Liquid environment, what a template may refer to, and the
content hash that approval freezes.

Templates are checked at preparation (syntax, unknown fields, unknown filters, each with
line and column) so that rendering at send time never meets a surprise; an attribute
that a given profile lacks simply renders empty.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

from envoi.deliveries.models import Delivery, Recurrence

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "language", "timezone")
# What a link's target may depend on: a click re-renders it from the profile alone.
PROFILE_GLOBALS = frozenset({*PROFILE_FIELDS, "attributes"})
# Names a template may use at its top level.
TEMPLATE_GLOBALS = PROFILE_GLOBALS | {"unsubscribe_url", "mirror_url"}
TEMPLATE_FIELDS = ("subject", "html_body", "text_body")

environment = Environment()


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
        return [TemplateProblem(field, str(error.message or error),
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


def uses_variable(source: str, name: str) -> bool:
    try:
        return name in environment.from_string(source).analyze().globals
    except LiquidError:
        return False


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
    return hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()
