"""The content part of the delivery form: language variants, and the findings of the
saved content shown on the fields they are about.

A variant is a language's subject, preheader, body (in the delivery's content mode)
and text part; the delivery's own fields are the default variant. Variants are a
Django formset (``variants-0-language``, ...) so that the form works, and keeps its
work, with or without the page's script.

Findings come from :func:`envoi.content.checks.content_findings`, the rules that
preparation applies. Each names its field by key (``subject``,
``variants.ko.mjml_body``); here it becomes a translated sentence on that field, with
line and column where the rule knows them, and never an internal field name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django import forms
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from envoi.content.authoring import (
    DEFAULT,
    LANGUAGE,
    SOURCE_FIELDS,
    Variant,
    compiled,
    variant_dicts,
)
from envoi.content.checks import content_findings, field_label, field_words, named_fields
from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, Finding
from envoi.web.labels import FINDING_LABELS
from envoi.words import Words

PREFIX = "variants"
# Languages offered when adding a variant; any code such as pt-br can be typed.
COMMON_LANGUAGES = ("en", "ko", "ja", "zh", "fr", "de", "es", "pt", "it", "vi", "th")
_INTERNAL_NAMES = re.compile(r"\b(html_body|mjml_body|text_body)\b")


class VariantForm(forms.Form):
    language = forms.CharField(
        label=gettext_lazy("Language"), max_length=16,
        help_text=gettext_lazy("A language code such as ko, ja or pt-br: profiles whose "
                               "language is this one receive this variant."),
        widget=forms.TextInput(attrs={"list": "variant-languages", "autocomplete": "off",
                                      "spellcheck": "false", "data-variant-language": ""}))
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=998, required=False,
                              help_text=gettext_lazy("Left empty, the default subject."))
    preheader = forms.CharField(label=gettext_lazy("Preheader"), max_length=500,
                                required=False)
    html_body = forms.CharField(label=gettext_lazy("HTML content"), required=False,
                                strip=False, widget=forms.Textarea(
                                    attrs={"rows": 12, "spellcheck": "false"}))
    mjml_body = forms.CharField(label=gettext_lazy("MJML source"), required=False,
                                strip=False, widget=forms.Textarea(
                                    attrs={"rows": 16, "spellcheck": "false"}))
    text_body = forms.CharField(label=gettext_lazy("Text content"), required=False,
                                strip=False, widget=forms.Textarea(attrs={"rows": 6}))

    def clean_language(self) -> str:
        language = self.cleaned_data["language"].strip().lower().replace("_", "-")
        if not LANGUAGE.match(language):
            raise forms.ValidationError(_("Give a language code such as ko, ja or pt-br."))
        return language

    def stored(self) -> dict[str, Any]:
        """The variant as the core takes it (line ends as typed on every system)."""
        return {"language": self.cleaned_data["language"],
                **{name: self.cleaned_data[name].replace("\r\n", "\n")
                   for name in SOURCE_FIELDS}}


class BaseVariantFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        seen: set[str] = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or removed(self, form):
                continue
            language = form.cleaned_data.get("language")
            if language and language in seen:
                form.add_error("language", _("There is already a variant in this language."))
            seen.add(language or "")


VariantFormSet = forms.formset_factory(VariantForm, formset=BaseVariantFormSet, extra=0,
                                       can_delete=True, max_num=50, absolute_max=50)


def removed(formset: forms.BaseFormSet, form: forms.Form) -> bool:
    return bool(formset.can_delete and form.cleaned_data.get("DELETE"))


def variant_formset(data: Any, delivery: Delivery | None) -> forms.BaseFormSet:
    """The variants as posted, or as stored when the request carries none (a form from
    before variants existed, or a script, leaves them as they are)."""
    initial = variant_dicts(delivery) if delivery is not None else []
    if data is not None and f"{PREFIX}-TOTAL_FORMS" not in data:
        data = None
    return VariantFormSet(data, initial=initial, prefix=PREFIX)


def posted_variants(formset: forms.BaseFormSet) -> list[dict[str, Any]] | None:
    """The variants to store; ``None`` when the request carried none."""
    if not formset.is_bound:
        return None
    return [form.stored() for form in formset.forms if not removed(formset, form)]


def finding_detail(finding: Any) -> tuple[str, bool]:
    """The detail of a finding (a rule's :class:`Finding`, or a stored preparation
    message) as a person reads it, with internal field names said as labels: in the
    reader's language when the rule wrote it as words (``True``), else as written."""
    if isinstance(finding, dict):  # a preview's findings, as the API gives them
        sentence = finding.get("message", "")
    else:
        sentence = getattr(finding, "sentence", finding.message)
    if isinstance(sentence, Words):
        named = named_fields(sentence, field_words)
        return (named.render(_) if isinstance(named, Words) else named), True
    return _INTERNAL_NAMES.sub(lambda match: str(field_label(match.group(1))),
                               sentence), False


def shown_field(key: str) -> str:
    """A finding's field key (``html_body``, ``variants.ko.subject``) as its label."""
    _prefix, language, name = (key.split(".", 2) + ["", ""])[:3] if key.startswith(
        "variants.") else ("", "", key)
    label = field_label(name) if name else ""
    return f"{label} ({language})" if language and label else label or language


def readable(finding: Finding) -> SafeString:
    """A finding as a person reads it: where (line and column), what (translated), and
    the rule's own detail, in the reader's language when written as words, with internal
    field names said as labels."""
    where = (_("Line %(line)s, column %(column)s: ") % {"line": finding.line,
                                                       "column": finding.column}
             if finding.line else "")
    what = FINDING_LABELS.get(finding.code)
    detail, translated = finding_detail(finding)
    english = "" if translated else ' lang="en"'
    if what is None:
        return format_html("{}<span{}>{}</span>", where, mark_safe(english), detail)
    with translation.override("en"):
        english_detail = str(finding.message)
        says_no_more = str(what) == english_detail  # the label is the whole sentence
    if says_no_more:
        return format_html("{}{}", where, what)
    return format_html("{}{} <span{}>{}</span>", where, what, mark_safe(english), detail)


def attach_findings(form: forms.Form, formset: forms.BaseFormSet,
                    findings: list[Finding]) -> list[SafeString]:
    """Put each finding on the field it names (``form.findings[name]``, the same on
    each variant's form); those that name no field are returned for a banner."""
    by_language = {form_.initial.get("language") or form_.data.get(
        f"{form_.prefix}-language", ""): form_ for form_ in formset.forms}
    for target in (form, *formset.forms):
        target.findings = defaultdict(list)  # type: ignore[attr-defined]
    loose: list[SafeString] = []
    for finding in findings:
        target, name = form, finding.field or ""
        if name.startswith("variants."):
            _prefix, language, name = (name.split(".", 2) + [""])[:3]
            target = by_language.get(language)  # type: ignore[assignment]
        if target is not None and name in target.fields:
            target.findings[name].append(  # type: ignore[attr-defined]
                (finding.level == ERROR, readable(finding)))
        else:
            loose.append(readable(finding))
    return loose


def posted_findings(form: forms.Form, formset: forms.BaseFormSet) -> list[Finding]:
    """The findings of the content as posted, when the core refused to save it (a
    malformed sender): shown with the refusal, so that every problem shows at once.
    Nothing is saved; the fields the refusal is on keep only the refusal."""
    # A field the refusal is on has left cleaned_data: it is read as typed.
    data = {name: form.cleaned_data.get(name, form[name].value() or "")
            for name in form.fields}
    mode = data["content_mode"]
    default = Variant(DEFAULT, mode, data["subject"], data["preheader"], data["html_body"],
                      data["mjml_body"], data["text_body"])
    others = [Variant(given["language"], mode, given["subject"] or default.subject,
                      given["preheader"] or default.preheader, given["html_body"],
                      given["mjml_body"], given["text_body"])
              for given in posted_variants(formset) or []]
    unsaved = Delivery(sender=data["sender"], reply_to=data["reply_to"],
                       subject=data["subject"], is_marketing=data["is_marketing"],
                       content_mode=mode, audience=form.cleaned_data.get("audience"))
    findings = content_findings(unsaved, [compiled(v) for v in [default, *others]])
    return [finding for finding in findings if finding.field not in form.errors]
