"""Core refusals, said in the reader's language.

The core raises exceptions whose English message is the API's answer. The console shows
the same refusal translated: permission refusals by their action (the sentence of the
seed page for sending actions), lifecycle refusals by the delivery's status, and the
known delivery messages by their text. A message the console has no translation for
(a detail naming a field, line and column) is shown as the core wrote it.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from envoi.accounts.services import PermissionDenied
from envoi.deliveries.lifecycle import InvalidTransition
from envoi.deliveries.services import DeliveryError, LedgerKept
from envoi.sending.proofs import NoTestProfiles
from envoi.web.labels import STATUS_LABELS, label

DENIALS = {
    "delivery.view": gettext_lazy("Your permissions do not allow you to view deliveries."),
    "delivery.create": gettext_lazy("Your permissions do not allow you to create deliveries."),
    "delivery.edit": gettext_lazy("Your permissions do not allow you to edit deliveries."),
    "delivery.delete": gettext_lazy("Your permissions do not allow you to delete deliveries."),
    "delivery.prepare": gettext_lazy(
        "Your permissions do not allow you to prepare deliveries."),
    "delivery.proof": gettext_lazy("Your permissions do not allow you to send proofs."),
    "delivery.approve": gettext_lazy(
        "Your permissions do not allow you to approve deliveries."),
    "delivery.reject": gettext_lazy("Your permissions do not allow you to reject deliveries."),
    "delivery.confirm": gettext_lazy(
        "Your permissions do not allow you to confirm a delivery."),
    "delivery.pause": gettext_lazy("Your permissions do not allow you to pause a delivery."),
    "delivery.resume": gettext_lazy("Your permissions do not allow you to resume a delivery."),
    "delivery.stop": gettext_lazy("Your permissions do not allow you to stop a delivery."),
    "delivery.activate": gettext_lazy(
        "Your permissions do not allow you to activate deliveries."),
    "profile.view": gettext_lazy("Your permissions do not allow you to view profiles."),
    "profile.import": gettext_lazy("Your permissions do not allow you to import profiles."),
    "profile.mark_test": gettext_lazy(
        "Your permissions do not allow you to mark test profiles."),
    "profile.export": gettext_lazy("Your permissions do not allow you to export profiles."),
    "audience.edit": gettext_lazy("Your permissions do not allow you to edit audiences."),
    "logs.view": gettext_lazy("Your permissions do not allow you to view logs."),
    "logs.export": gettext_lazy("Your permissions do not allow you to export logs."),
    "outbox.view": gettext_lazy("Your permissions do not allow you to view the outbox."),
    "users.manage": gettext_lazy("Your permissions do not allow you to manage users."),
    "token.manage": gettext_lazy("Your permissions do not allow you to manage API tokens."),
    "quarantine.manage": gettext_lazy(
        "Your permissions do not allow you to manage the quarantine."),
    "quarantine.view": gettext_lazy("Your permissions do not allow you to view the quarantine."),
    "qualification.manage": gettext_lazy(
        "Your permissions do not allow you to manage qualification rules."),
    "bounces.view": gettext_lazy("Your permissions do not allow you to view received bounces."),
    "template.view": gettext_lazy("Your permissions do not allow you to view templates."),
    "template.edit": gettext_lazy("Your permissions do not allow you to edit templates."),
    "image.upload": gettext_lazy("Your permissions do not allow you to upload images."),
    "workers.view": gettext_lazy("Your permissions do not allow you to view workers."),
    "metrics.view": gettext_lazy("Your permissions do not allow you to view metrics."),
    "profile.edit": gettext_lazy("Your permissions do not allow you to edit profiles."),
    "consent.record": gettext_lazy(
        "Your permissions do not allow you to record consent."),
    "consent.erase": gettext_lazy(
        "Your permissions do not allow you to erase profiles."),
    "consent.export": gettext_lazy(
        "Your permissions do not allow you to export the data of profiles."),
    "sending_domain.view": gettext_lazy(
        "Your permissions do not allow you to view sending domains."),
    "sending_domain.manage": gettext_lazy(
        "Your permissions do not allow you to manage sending domains."),
    "brand.manage": gettext_lazy(
        "Your permissions do not allow you to manage the brand of recipient pages."),
}

KNOWN_DELIVERY_ERRORS = {
    "reason: say why the delivery is rejected.": gettext_lazy(
        "Say why the delivery is rejected: the preparer reads the reason."),
    "The delivery was prepared again while you reviewed it: review it again before "
    "approving.": gettext_lazy("The delivery was prepared again while you reviewed it: "
                               "review it again before approving."),
    "The delivery changed since it was prepared: prepare it again.": gettext_lazy(
        "The delivery changed since it was prepared: prepare it again."),
    "The delivery changed since it was approved: approve it again.": gettext_lazy(
        "The delivery changed since it was approved: approve it again."),
    "The recurring delivery has no confirmation to withdraw.": gettext_lazy(
        "The recurring delivery has no confirmation to withdraw."),
    "Only a recurring delivery is activated; confirm this one.": gettext_lazy(
        "Only a recurring delivery is activated; confirm this one."),
    "contact_date: a scheduled send can only be moved to a later date; to send sooner, "
    "cancel the schedule and confirm again.": gettext_lazy(
        "A scheduled send can only be moved to a later date; to send sooner, cancel the "
        "schedule and confirm again."),
    "contact_date: give a date and a time of day": gettext_lazy(
        "Give a date and a time of day."),
    "The recurring delivery changed since it was approved: its runs wait for a new "
    "approval.": gettext_lazy("The recurring delivery changed since it was approved: its "
                              "runs wait for a new approval."),
}

# Schedule refusals the console can say in the reader's language: (the field the core
# names, a fragment of its sentence, the translation). Others (a cron expression's
# faults, which quote it) are shown as the core wrote them.
SCHEDULE_DETAILS = [
    ("contact_date", "a recurring delivery runs on its schedule", gettext_lazy(
        "A recurring delivery runs on its schedule: give either a contact date or a "
        "recurring schedule, not both.")),
    ("recurrence", "cannot have a schedule of its own", gettext_lazy(
        "An execution of a recurring delivery cannot have a schedule of its own.")),
    ("recurrence", "give either 'cron' or 'every'", gettext_lazy(
        "Give a cron expression, or choose how often the delivery recurs.")),
    ("time_zone", "unknown time zone", gettext_lazy(
        "Unknown time zone: choose a name from the list.")),
    ("recurrence.at", "is not a time of day", gettext_lazy(
        "Give a time of day, in hours and minutes.")),
    ("cron", "never occurs", gettext_lazy("This schedule never occurs.")),
    ("contact_date", "is outside the years", gettext_lazy(
        "This date is too far in the past or in the future.")),
    ("recurrence.ends_at", "is outside the years", gettext_lazy(
        "This date is too far in the past or in the future.")),
    # Addresses and header fields (envoi.sending.mime.parse_mailbox), either field.
    ("sender", "is empty", gettext_lazy("Give the sender's address.")),
    ("sender", "cannot be parsed", gettext_lazy(
        "This is not an address: write it as name@domain, or Name <name@domain>.")),
    ("sender", "is not an address", gettext_lazy(
        "This is not an address: write it as name@domain, or Name <name@domain>.")),
    ("sender", "exactly one address", gettext_lazy("Give one address only.")),
    ("sender", "line break", gettext_lazy("The address cannot contain a line break.")),
    ("sender", "control character", gettext_lazy(
        "The address cannot contain a control character.")),
    ("sender", "an SMS sender is", gettext_lazy(
        "An SMS sender is a short code, a phone number (up to 15 digits) or a name of at "
        "most 11 characters.")),
    ("reply_to", "cannot be parsed", gettext_lazy(
        "This is not an address: write it as name@domain, or Name <name@domain>.")),
    ("reply_to", "is not an address", gettext_lazy(
        "This is not an address: write it as name@domain, or Name <name@domain>.")),
    ("reply_to", "exactly one address", gettext_lazy("Give one address only.")),
    ("reply_to", "line break", gettext_lazy("The address cannot contain a line break.")),
    ("subject", "line break", gettext_lazy("The subject cannot contain a line break.")),
]


def denial(action: str) -> str:
    """The refusal of ``action``, translated (the core's English if it is new)."""
    from envoi.accounts.roles import denial_message

    found = DENIALS.get(action)
    return str(found) if found is not None else denial_message(action)


def refusal_detail(field: str, detail: str) -> str:
    """What the core said about ``field``, translated when the console knows the
    sentence, else as written (in English, and marked so)."""
    for named, fragment, translation in SCHEDULE_DETAILS:
        if named == field and fragment in detail:
            return str(translation)
    return format_html('<span lang="en">{}</span>', detail)


def message_of(error: Exception) -> str:
    """What to tell the user about a refusal raised by a core service."""
    if isinstance(error, PermissionDenied):
        return denial(error.action)
    if isinstance(error, LedgerKept):
        return _("This delivery has sent messages: it cannot be deleted, because its logs "
                 "and the links in its messages must keep working. Archive it to hide it "
                 "from lists.")
    if isinstance(error, InvalidTransition):
        return _("This action is not possible while the delivery is “%(status)s”.") % {
            "status": label(STATUS_LABELS, error.status)}
    if isinstance(error, NoTestProfiles):
        return _("There is no test profile to send a proof to.")
    if isinstance(error, DeliveryError):
        known = KNOWN_DELIVERY_ERRORS.get(str(error))
        return str(known) if known is not None else str(error)
    return str(error)


# The refusals every console view turns into a message instead of an error page.
REFUSALS = (PermissionDenied, InvalidTransition, NoTestProfiles, DeliveryError)
