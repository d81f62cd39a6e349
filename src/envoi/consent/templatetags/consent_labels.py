"""Translated labels of consent's codes, for the console's profile page."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

register = template.Library()

CHANNEL_LABELS = {"email": pgettext_lazy("channel", "Email"), "sms": _("SMS")}
STATUS_LABELS = {"none": _("Not given"), "pending": _("Awaiting confirmation"),
                 "granted": _("Given"), "withdrawn": _("Withdrawn")}
PURPOSE_LABELS = {"marketing": _("Marketing"),
                  "night": _("Advertising at night (21:00-08:00)")}
NOTICE_KINDS = {"reconfirm": _("Reconfirmation of consent"),
                "granted": _("Result of an opt-in"), "withdrawn": _("Result of an opt-out")}
NOTICE_STATUSES = {"sending": _("Being sent"), "sent": pgettext_lazy("message status", "Sent"),
                   "failed": _("Failed")}
SOURCE_LABELS = {"import": pgettext_lazy("consent source", "Import"),
                 "form": _("Subscription form"), "api": _("API"),
                 "console": _("Console"), "link": _("Link in a message")}


@register.filter
def consent_channel(code: str) -> str:
    return str(CHANNEL_LABELS.get(code, code))


@register.filter
def consent_status(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


@register.filter
def consent_source(code: str) -> str:
    return str(SOURCE_LABELS.get(code, code))


@register.filter
def consent_purpose(code: str) -> str:
    return str(PURPOSE_LABELS.get(code, code))


@register.filter
def notice_kind(code: str) -> str:
    return str(NOTICE_KINDS.get(code, code))


@register.filter
def notice_status(code: str) -> str:
    return str(NOTICE_STATUSES.get(code, code))
