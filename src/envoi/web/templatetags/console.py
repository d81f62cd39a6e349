"""Formatting for the console's templates: dates, numbers and codes, for the locale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from envoi.web import audit_words, labels
from envoi.web.middleware import zone_named
from envoi.words import Words

register = template.Library()


@register.filter
def when(moment: datetime | None) -> str:
    """A time in the reader's zone, formatted for their language, with the zone named."""
    if moment is None:
        return "—"
    return _time(timezone.localtime(moment))


@register.filter
def when_in(moment: datetime | None, zone_name: str) -> str:
    """A time in the zone a schedule is set in (``zone_name``, an IANA name), formatted
    for the reader's language, with the zone named."""
    if moment is None:
        return "—"
    return _time(moment.astimezone(zone_named(zone_name) or UTC))


def _time(local: datetime) -> str:
    text = formats.date_format(local, "SHORT_DATETIME_FORMAT")
    return format_html('<time datetime="{}">{} <abbr class="tz">{}</abbr></time>',
                       local.isoformat(), text, local.tzname() or "")


@register.filter
def num(value: int | None) -> str:
    """An integer with the locale's digit grouping."""
    return intcomma(value or 0)


@register.filter
def percent(rate: float | None) -> str:
    """A rate in [0, 1] as a percentage with one decimal, for the locale. English, Korean
    and Japanese all write the sign against the number ("12.5%")."""
    return f"{floatformat((rate or 0.0) * 100, 1)}%"


@register.filter
def status_label(code: str) -> str:
    return labels.label(labels.STATUS_LABELS, code)


@register.filter
def status_tone(code: str) -> str:
    return labels.STATUS_TONES.get(code, "neutral")  # type: ignore[call-overload]


@register.filter
def send_status(code: str) -> str:
    return labels.label(labels.SEND_STATUS_LABELS, code)


@register.filter
def reason(code: str) -> str:
    return labels.label(labels.REASON_LABELS, code) if code else ""


@register.filter
def unsubscribe_reason(code: str) -> str:
    return labels.label(labels.UNSUBSCRIBE_REASON_LABELS, code)


@register.filter
def failure_type(code: str) -> str:
    return labels.label(labels.FAILURE_TYPE_LABELS, code) if code else ""


@register.filter
def event(code: str) -> str:
    return labels.label(labels.EVENT_LABELS, code)


@register.filter
def role(code: str) -> str:
    return labels.label(labels.ROLE_LABELS, code)


@register.filter
def channel(code: str) -> str:
    return labels.label(labels.CHANNEL_LABELS, code)


@register.filter
def level(code: str) -> str:
    return labels.label(labels.LEVEL_LABELS, code)


@register.filter
def aggregation(code: str) -> str:
    return labels.label(labels.AGGREGATION_LABELS, code)


@register.filter
def address_status(code: str) -> str:
    return labels.label(labels.QUARANTINE_STATUS_LABELS, code)


@register.filter
def address_reason(code: str) -> str:
    if code in labels.QUARANTINE_REASON_LABELS:
        return labels.label(labels.QUARANTINE_REASON_LABELS, code)
    return labels.label(labels.REASON_LABELS, code) if code else ""


@register.filter
def address_source(code: str) -> str:
    return labels.label(labels.QUARANTINE_SOURCE_LABELS, code)


@register.simple_tag(takes_context=True)
def page_url(context: template.Context, page: int) -> str:
    """The current URL with its ``page`` parameter set to ``page``."""
    query = context["request"].GET.copy()
    query["page"] = str(page)
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def may(context: template.Context, action: str) -> bool:
    """Whether the signed-in user's roles allow ``action`` (for showing links)."""
    from envoi.web.views.common import may as request_may

    return request_may(context["request"], action)


@register.filter
def finding_label(code: str) -> str:
    return labels.label(labels.FINDING_LABELS, code) if code in labels.FINDING_LABELS else ""


@register.filter
def finding_detailed(code: str) -> bool:
    return code in labels.FINDINGS_WITH_DETAIL or code not in labels.FINDING_LABELS


@register.filter
def audit_phrase(action: str) -> str:
    return audit_words.phrase(action)


@register.filter
def audit_details(entry) -> list:
    return audit_words.details(entry)


@register.filter
def finding_detail(finding: Any) -> str:
    """A finding's detail: in the reader's language when its rule wrote it as words,
    else in English (marked so)."""
    from envoi.web.content_form import finding_detail as detail_of

    detail, translated = detail_of(finding)
    if translated:
        return format_html('<span class="detail">{}</span>', detail)
    return format_html('<span class="detail" lang="en">{}</span>', detail)


@register.filter
def finding_field(key: str) -> str:
    """A finding's field, by the form's label for it (never an internal name)."""
    from envoi.web.content_form import shown_field

    return shown_field(key)


@register.filter
def words(sentence) -> str:
    """A core sentence (:class:`envoi.words.Words`) in the reader's language."""
    return sentence.render(gettext) if isinstance(sentence, Words) else str(sentence)


@register.filter
def figure(value: float | int) -> str:
    """A chart's figure: a count with the locale's grouping, a rate with one decimal."""
    if isinstance(value, float):
        return floatformat(value, "1g")
    return intcomma(value)


@register.filter
def local_input(moment: datetime | None, zone_name: str) -> str:
    """``moment`` as a ``datetime-local`` input's value, in the zone ``zone_name``."""
    if moment is None:
        return ""
    local = moment.astimezone(zone_named(zone_name) or UTC)
    return local.replace(tzinfo=None).isoformat(timespec="minutes")


@register.filter
def title_of(delivery: Any) -> str:
    """A delivery's label; an execution's with its period in the reader's locale and
    time zone (not the stored ISO key)."""
    from envoi.web.schedule import execution_label

    if not getattr(delivery, "parent_id", None):
        return delivery.label
    return execution_label(delivery.label, delivery.period, delivery.contact_date)


@register.filter
def period_of(delivery: Any) -> str:
    from envoi.web.schedule import period_label

    return period_label(delivery.period, delivery.contact_date) if delivery.period else ""


@register.filter
def findings(field: Any) -> list:
    """The saved content's findings about this form field: (is an error, message)."""
    return getattr(field.form, "findings", {}).get(field.name, [])
