"""A delivery's content as authored (mode, default fields, language variants) and as
sent (compiled HTML and text per variant).

Compilation happens when content is saved and again at preparation, never per
recipient: MJML becomes HTML, the preheader goes in as hidden text at the top of the
body, and a text part is generated from the HTML when none is written. The compiled
HTML and text then feed the sending pipeline exactly as hand-written HTML does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from envoi.content.mjml import MjmlProblem, compile_mjml
from envoi.content.models import ContentMode, DeliveryVariant
from envoi.content.text import html_to_text
from envoi.deliveries.models import Delivery

DEFAULT = ""  # the default variant's language key
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
SOURCE_FIELDS = ("subject", "preheader", "html_body", "mjml_body", "text_body")
MAX_VARIANTS = 50
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


class ContentError(ValueError):
    """Variants that cannot be stored as given (shape, not content: that is a finding)."""


@dataclass(frozen=True)
class Compiled:
    html: str
    text: str
    mjml_problems: tuple[MjmlProblem, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One language's content; the default variant has ``language == ""``."""

    language: str
    mode: str
    subject: str
    preheader: str = ""
    html_body: str = ""
    mjml_body: str = ""
    text_body: str = ""
    compiled_html: str = ""
    compiled_text: str = ""
    problems: tuple[MjmlProblem, ...] = field(default=(), compare=False)

    @property
    def body_field(self) -> str:
        return "html_body" if self.mode == ContentMode.HTML else "mjml_body"


def compile_fields(mode: str, html_body: str, mjml_body: str, preheader: str,
                   text_body: str) -> Compiled:
    """The HTML and text part that are sent, from the authored fields."""
    problems: tuple[MjmlProblem, ...] = ()
    if mode == ContentMode.HTML:
        source_html = html_body
    else:
        result = compile_mjml(mjml_body) if mjml_body.strip() else None
        source_html = result.html if result else ""
        problems = result.problems if result else ()
    text = text_body if text_body.strip() else (
        html_to_text(source_html) if source_html.strip() else "")
    return Compiled(with_preheader(source_html, preheader), text, problems)


def with_preheader(source: str, preheader: str) -> str:
    """The preheader as the first, hidden text of the body: what mailbox lists show
    after the subject."""
    if not preheader.strip() or not source.strip():
        return source
    hidden = ('<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" '
              f'aria-hidden="true">{html.escape(preheader, quote=False)}</div>')
    opening = _BODY_OPEN.search(source)
    if opening is None:
        return hidden + source
    return source[:opening.end()] + hidden + source[opening.end():]


def authored(delivery: Delivery) -> Delivery:
    """Whose authoring (mode, MJML, preheader, variants) a delivery uses: an execution
    of a recurring delivery is written by its parent, which it copies the HTML,
    subject and text of when it is created."""
    if delivery.parent_id is None:
        return delivery
    return Delivery.objects.filter(pk=delivery.parent_id).first() or delivery


def default_variant(delivery: Delivery) -> Variant:
    author = authored(delivery)
    return Variant(DEFAULT, author.content_mode, delivery.subject, author.preheader,
                   delivery.html_body, author.mjml_body, delivery.text_body,
                   delivery.compiled_html, delivery.compiled_text)


def variants_of(delivery: Delivery) -> list[Variant]:
    """The default variant first, then the language variants in their order. A variant
    without a subject or preheader takes the default's."""
    default = default_variant(delivery)
    rows = DeliveryVariant.objects.filter(delivery_id=authored(delivery).pk).order_by(
        "position", "id")
    return [default, *(Variant(row.language, default.mode,
                               row.subject or default.subject,
                               row.preheader or default.preheader, row.html_body,
                               row.mjml_body, row.text_body, row.compiled_html,
                               row.compiled_text) for row in rows)]


def languages_of(delivery: Delivery) -> list[str]:
    return list(DeliveryVariant.objects.filter(delivery_id=authored(delivery).pk)
                .order_by("position", "id").values_list("language", flat=True))


def compiled(variant: Variant) -> Variant:
    result = compile_fields(variant.mode, variant.html_body, variant.mjml_body,
                            variant.preheader, variant.text_body)
    return Variant(variant.language, variant.mode, variant.subject, variant.preheader,
                   variant.html_body, variant.mjml_body, variant.text_body, result.html,
                   result.text, result.mjml_problems)


def refresh_compiled(delivery: Delivery) -> list[Variant]:
    """Compile every variant and store what is sent; the compiled variants."""
    variants = [compiled(variant) for variant in variants_of(delivery)]
    default, *others = variants
    Delivery.objects.filter(pk=delivery.pk).update(compiled_html=default.compiled_html,
                                                   compiled_text=default.compiled_text)
    delivery.compiled_html, delivery.compiled_text = (default.compiled_html,
                                                      default.compiled_text)
    for variant in others:
        DeliveryVariant.objects.filter(delivery_id=authored(delivery).pk,
                                       language=variant.language).update(
            compiled_html=variant.compiled_html, compiled_text=variant.compiled_text)
    return variants


def clean_variants(variants: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check the shape of a list of variants; the stored form (languages lower-cased)."""
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, given in enumerate(variants):
        language = str(given.get("language") or "").strip().lower().replace("_", "-")
        where = f"variants[{index}].language"
        if not LANGUAGE.match(language):
            raise ContentError(f"{where}: {language!r} is not a language code "
                               "such as en, ko, ja or pt-br")
        if language in seen:
            raise ContentError(f"{where}: a second variant for {language!r}")
        seen.add(language)
        unknown = set(given) - {"language", *SOURCE_FIELDS}
        if unknown:
            raise ContentError(f"variants[{index}]: unknown fields "
                               f"{', '.join(sorted(unknown))}")
        cleaned.append({"language": language,
                        **{name: str(given.get(name) or "") for name in SOURCE_FIELDS}})
    if len(cleaned) > MAX_VARIANTS:
        raise ContentError(f"variants: at most {MAX_VARIANTS} languages")
    return cleaned


def variant_dicts(delivery: Delivery) -> list[dict[str, Any]]:
    return [{"language": row.language, **{name: getattr(row, name) for name in SOURCE_FIELDS}}
            for row in DeliveryVariant.objects.filter(delivery_id=authored(delivery).pk)
            .order_by("position", "id")]


@transaction.atomic
def save_variants(delivery: Delivery, variants: list[dict[str, Any]]) -> None:
    DeliveryVariant.objects.filter(delivery_id=delivery.pk).delete()
    DeliveryVariant.objects.bulk_create(
        DeliveryVariant(delivery_id=delivery.pk, position=position, **variant)
        for position, variant in enumerate(variants))


def sendable(delivery: Delivery, variant: Variant) -> Delivery:
    """An unsaved delivery carrying this variant's compiled content: what the sending
    renderer reads (subject, HTML, text, sender). HTML content never compiled (written
    before compilation existed, or straight into the database) is sent as written."""
    never_compiled = variant.mode == ContentMode.HTML and not variant.compiled_html
    html_part, text_part = ((variant.html_body, variant.text_body) if never_compiled
                            else (variant.compiled_html, variant.compiled_text))
    return Delivery(pk=delivery.pk, label=delivery.label, sender=delivery.sender,
                    reply_to=delivery.reply_to, subject=variant.subject,
                    html_body=html_part, text_body=text_part,
                    is_marketing=delivery.is_marketing, content_mode=variant.mode,
                    prepared_hash=delivery.prepared_hash,
                    # Rules that count the audience's profiles (a divisor some lack).
                    audience_id=delivery.audience_id)
