"""The control rules over every variant of a delivery's content, and the content
problems a draft is saved with (Liquid and MJML, each with line and column).

Findings name their field by key (``subject``, ``mjml_body``, ``variants.ko.subject``)
for a form to attach them to, and by label in the message a person reads: never an
internal name such as ``html_body``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from django.utils.translation import gettext, gettext_noop

from envoi.content.authoring import DEFAULT, Variant, compiled, sendable, variants_of
from envoi.content.models import ContentMode
from envoi.deliveries.content import check_template
from envoi.deliveries.models import Delivery
from envoi.preparation import control
from envoi.preparation.control import ERROR, Finding
from envoi.tracking import links
from envoi.tracking.tokens import MAX_LINKS
from envoi.words import Words

_INTERNAL_NAME = re.compile(r"\b(html_body|mjml_body|text_body)\b")


_FIELD_LABELS = {
    "subject": gettext_noop("Subject"), "preheader": gettext_noop("Preheader"),
    "html_body": gettext_noop("HTML"), "mjml_body": gettext_noop("MJML"),
    "text_body": gettext_noop("Text part"), "sender": gettext_noop("Sender"),
    "reply_to": gettext_noop("Reply-to"), "audience": gettext_noop("Audience"),
}


def field_words(name: str) -> Words | str:
    """A field's label, to be said in the reader's language; an unknown name as is."""
    return Words(_FIELD_LABELS[name]) if name in _FIELD_LABELS else name


def field_label(name: str) -> str:
    """A field's label in the active language."""
    label = field_words(name)
    return label.render(gettext) if isinstance(label, Words) else label


def field_key(variant: Variant, name: str) -> str:
    return name if variant.language == DEFAULT else f"variants.{variant.language}.{name}"


def where(variant: Variant, name: str) -> Words | str:
    """How a person is told which field: "Subject", or "Subject (ko)"."""
    label = field_words(name)
    return label if variant.language == DEFAULT else Words(
        "%(label)s (%(language)s)", label=label, language=variant.language)


def _said(variant: Variant, name: str, problem: Words | str) -> Words:
    """``problem`` in the field ``name`` of ``variant``: "HTML (ko): …"."""
    return Words("%(where)s: %(problem)s", where=where(variant, name), problem=problem)


def source_problems(variant: Variant) -> list[Finding]:
    """Liquid problems of the fields as written, and MJML problems, with positions."""
    findings = []
    body = variant.body_field
    for name in ("subject", "preheader", body, "text_body"):
        for problem in check_template(name, getattr(variant, name)):
            findings.append(Finding(ERROR, "personalization",
                                    _said(variant, name, problem.message),
                                    field_key(variant, name), problem.line, problem.column))
    if not findings:
        findings += _compiled_problems(variant)
    for mjml_problem in variant.problems:
        findings.append(Finding(ERROR, "mjml", _said(variant, body, mjml_problem.message),
                                field_key(variant, body), mjml_problem.line,
                                mjml_problem.column))
    return findings


def _compiled_problems(variant: Variant) -> list[Finding]:
    """Liquid that parsed as written but not once compiled: MJML moved or dropped a tag
    (``{% if %}`` between sections), or the text generated from the HTML reads wrong."""
    findings = []
    body = variant.body_field
    if variant.mode != ContentMode.HTML and variant.compiled_html:
        for problem in check_template(body, variant.compiled_html)[:1]:
            findings.append(Finding(
                ERROR, "personalization",
                _said(variant, body, Words(gettext_noop(
                    "Liquid tags do not survive MJML compilation here (put them inside "
                    "mj-text or mj-raw): %(problem)s"), problem=problem.message)),
                field_key(variant, body)))
    if not variant.text_body.strip() and variant.compiled_text:
        for problem in check_template("text_body", variant.compiled_text)[:1]:
            findings.append(Finding(
                ERROR, "personalization",
                _said(variant, "text_body", Words(gettext_noop(
                    "the text generated from the HTML has a Liquid problem; write the "
                    "text part: %(problem)s"), problem=problem.message)),
                field_key(variant, "text_body")))
    return findings


# Rules that judge one variant's compiled message; the sender is judged once.
VARIANT_RULES: list[Callable[[Delivery], Iterator[Finding]]] = [
    control.empty_content, control.empty_subject, control.divisor_attributes,
    control.unsubscribe_link, control.tracked_urls, control.message_size,
]
# Rules that judge what every variant shares: the sender's headers.
DELIVERY_RULES: list[Callable[[Delivery], Iterator[Finding]]] = [
    control.header_characters, control.sender_liquid, control.sending_domain,
]


def _relocated(finding: Finding, variant: Variant) -> Finding:
    """A rule's finding on the compiled message, moved to the field it came from."""
    name = finding.field or ""
    if name == "html_body" and variant.mode != ContentMode.HTML:
        name = "mjml_body"  # positions are in the compiled HTML, not in the MJML
        line = column = None
    else:
        line, column = finding.line, finding.column
    # A rule names the field it judged ("html_body: ..."); a person reads its label.
    message = named_fields(finding.message, lambda internal: field_words(
        name if internal == finding.field else internal))
    if variant.language != DEFAULT:
        message = Words("[%(language)s] %(sentence)s", language=variant.language,
                        sentence=message)
    return Finding(finding.level, finding.code, message,
                   field_key(variant, name) if name else (
                       f"variants.{variant.language}" if variant.language else ""),
                   line, column)


def variant_findings(delivery: Delivery, variant: Variant) -> list[Finding]:
    findings = source_problems(variant)
    view = sendable(delivery, variant)
    if any(f.code == "mjml" for f in findings):
        # The compiled HTML is not worth judging further; the subject still is, so
        # that every problem shows at once.
        return findings + [_relocated(finding, variant)
                           for finding in control.empty_subject(view)]
    generated_text = not variant.text_body.strip()
    for rule in VARIANT_RULES:
        # A text part generated from the HTML repeats the HTML's findings: the author
        # fixes them in the HTML.
        findings += [_relocated(finding, variant) for finding in rule(view)
                     if not (generated_text and finding.field == "text_body")]
    return findings


def named_fields(message: Words | str, label: Callable[[str], Words | str]) -> Words | str:
    """``message`` with the internal field names it says replaced by ``label(name)``:
    in words, the values that are such a name; in a plain sentence, the text."""
    if isinstance(message, Words):
        return Words(message.template, **{
            key: label(value) if isinstance(value, str) and _INTERNAL_NAME.fullmatch(value)
            else named_fields(value, label) if isinstance(value, Words) else value
            for key, value in message.values.items()})
    return _INTERNAL_NAME.sub(lambda match: str(label(match.group(1))), message)


def _labelled(finding: Finding) -> Finding:
    """A header finding whose message starts with the field's key, by its label."""
    if not finding.field:
        return finding
    if isinstance(finding.message, Words):
        if finding.message.values.get("field") != finding.field:
            return finding
        message: Words | str = Words(finding.message.template, **{
            **finding.message.values, "field": field_words(finding.field)})
    else:
        prefix = f"{finding.field}:"
        if not finding.message.startswith(prefix):
            return finding
        message = f"{field_label(finding.field)}:{finding.message[len(prefix):]}"
    return Finding(finding.level, finding.code, message, finding.field, finding.line,
                   finding.column)


def content_findings(delivery: Delivery, variants: list[Variant] | None = None,
                     ) -> list[Finding]:
    """Every finding of the delivery's content, all variants: what preparation stores,
    and what the API shows on a draft. ``variants`` already compiled, or compiled here."""
    if variants is None:
        variants = [compiled(variant) for variant in variants_of(delivery)]
    findings = [_labelled(finding) for rule in DELIVERY_RULES for finding in rule(delivery)]
    for variant in variants:
        findings += variant_findings(delivery, variant)
    return findings + list(_link_total(delivery, variants))


def _link_total(delivery: Delivery, variants: list[Variant]) -> Iterator[Finding]:
    """Tracked links are numbered across all variants, within what a token can carry."""
    total = sum(len(links.tracked_links(html_part)) for html_part in
                (sendable(delivery, variant).html_body for variant in variants) if html_part)
    if total > MAX_LINKS:
        yield Finding(ERROR, "links.too_many",
                      Words(gettext_noop("The variants hold %(total)s tracked links "
                                         "together; at most %(limit)s are possible."),
                            total=total, limit=MAX_LINKS))
