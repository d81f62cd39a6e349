"""Translated labels of consent's codes, for the console's profile page."""

from __future__ import annotations

from collections.abc import Callable

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


FILTERS = {"consent_channel": CHANNEL_LABELS, "consent_status": STATUS_LABELS,
           "consent_source": SOURCE_LABELS, "consent_purpose": PURPOSE_LABELS,
           "notice_kind": NOTICE_KINDS, "notice_status": NOTICE_STATUSES}


def _label_of(labels: dict) -> Callable[[str], str]:
    """A filter reading a code's label; an unknown code shows as it is."""
    return lambda code: str(labels.get(code, code))


for _name, _labels in FILTERS.items():
    register.filter(_name, _label_of(_labels))
