"""What the console calls each code the core stores: statuses, reasons, roles, events.

The core keeps stable lower-case codes; people read these labels, in their language.
A code without a label (a reason added later) is shown as the code itself.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from envoi.accounts.roles import Role
from envoi.deliveries.models import Status

STATUS_LABELS = {
    Status.EDITING: _("Editing"),
    Status.PREPARING: _("Preparing"),
    Status.PREPARATION_FAILED: _("Preparation failed"),
    Status.READY: _("Ready to be delivered"),
    Status.PENDING_APPROVAL: _("Pending approval"),
    Status.APPROVED: _("Approved"),
    Status.START_PENDING: _("Start pending"),
    Status.IN_PROGRESS: _("In progress"),
    Status.PAUSED: _("Paused"),
    Status.STOPPED: _("Stopped"),
    Status.FINISHED: _("Finished"),
    Status.FAILED: _("Failed"),
}

# The colour family of each status in lists and badges (see console.css).
STATUS_TONES = {
    Status.EDITING: "neutral",
    Status.PREPARING: "busy",
    Status.PREPARATION_FAILED: "bad",
    Status.READY: "ready",
    Status.PENDING_APPROVAL: "waiting",
    Status.APPROVED: "ready",
    Status.START_PENDING: "waiting",
    Status.IN_PROGRESS: "busy",
    Status.PAUSED: "waiting",
    Status.STOPPED: "neutral",
    Status.FINISHED: "good",
    Status.FAILED: "bad",
}

SEND_STATUS_LABELS = {
    "pending": pgettext_lazy("message status", "Pending"),
    "sent": pgettext_lazy("message status", "Sent"),
    "delivered": pgettext_lazy("message status", "Delivered"),
    "failed": pgettext_lazy("message status", "Failed"),
    "ignored": pgettext_lazy("message status", "Ignored"),
}

FAILURE_TYPE_LABELS = {
    "hard": _("Hard"),
    "soft": _("Soft"),
    "ignored": pgettext_lazy("failure type", "Ignored"),
}

REASON_LABELS = {
    # exclusions (SPEC §3)
    "address_missing": _("Address missing"),
    "address_invalid": _("Address invalid"),
    "duplicate": _("Duplicate address"),
    "denylisted": _("On the denylist"),
    "quarantined": _("Address quarantined"),
    "no_consent": _("No consent"),
    "phone_missing": _("Phone missing"),
    "phone_invalid": _("Phone invalid"),
    "sms_opt_out": _("Opted out of SMS"),
    # failures (SPEC §8)
    "user_unknown": _("User unknown"),
    "invalid_domain": _("Invalid domain"),
    "mailbox_full": _("Mailbox full"),
    "refused": _("Refused"),
    "policy": _("Refused by policy"),
    "unreachable": _("Unreachable"),
    "account_disabled": _("Account disabled"),
    "not_defined": _("Not defined"),
    "erased": _("Profile erased"),
    "delivery_stopped": _("Delivery stopped"),
    "expired": _("Validity period over"),
    "personalization_error": _("Personalization error"),
    "message_too_large": _("Message too large"),
}

# The reasons recipients give when they unsubscribe (envoi.consent), as the console
# counts them per delivery.
UNSUBSCRIBE_REASON_LABELS = {
    "too_many": _("Too many messages"),
    "not_relevant": _("Not relevant"),
    "never_signed_up": _("Never signed up"),
    "other": _("Another reason"),
    "none": _("No reason given"),
}

EVENT_LABELS = {
    "open": _("Open"),
    "click": _("Click"),
    "mirror": _("Mirror page view"),
    "unsubscribe": _("Unsubscription"),
}

ROLE_LABELS = {
    Role.ADMINISTRATION: _("Administration"),
    Role.PREPARE_DELIVERIES: _("Prepare deliveries"),
    Role.APPROVE_DELIVERIES: _("Approve deliveries"),
    Role.START_DELIVERIES: _("Start deliveries"),
    Role.WORKFLOW: _("Workflow"),
    Role.IMPORT: _("Import"),
    Role.EXPORT: _("Export"),
}

CHANNEL_LABELS = {"email": _("Email"), "sms": _("SMS")}

LEVEL_LABELS = {"error": _("Error"), "warning": _("Warning")}

AGGREGATION_LABELS = {
    "none": pgettext_lazy("aggregation period", "None"),
    "day": pgettext_lazy("aggregation period", "Day"),
    "week": pgettext_lazy("aggregation period", "Week"),
    "month": pgettext_lazy("aggregation period", "Month"),
}

QUARANTINE_STATUS_LABELS = {
    "valid": _("Valid"),
    "erroneous": _("Erroneous"),
    "quarantined": _("Quarantined"),
    "denylisted": _("Denylisted"),
    "allowlisted": _("Allowlisted"),
}

# Why an address changed standing: a failure's reason, or what released it (SPEC §8).
QUARANTINE_REASON_LABELS = {
    **{code: REASON_LABELS[code] for code in (
        "user_unknown", "invalid_domain", "mailbox_full", "refused", "unreachable",
        "account_disabled", "not_defined")},
    "complaint": _("Spam complaint"),
    "success": _("Message accepted"),
    "manual": _("Released by hand"),
    "no_error_10_days": _("10 days without error"),
    "no_error_30_days": _("30 days without error"),
}

QUARANTINE_SOURCE_LABELS = {
    "sending": _("Reply to the sending"),
    "bounce": _("Bounce message"),
    "complaint": _("Spam complaint"),
    "auto_release": _("Automatic release"),
    "manual": _("By hand"),
}


def label(table: dict, code: str) -> str:
    """The label of ``code`` in ``table``, or the code itself when it has none."""
    found = table.get(code)
    return str(found) if found is not None else code


# Control-rule findings (SPEC §3) by code. The core's own sentence, in English, is
# shown beside the label when it carries specifics (which field, line, link, size).
FINDING_LABELS = {
    "content.empty": _("The message has no content (HTML or text)."),
    "subject.empty": _("The subject is empty."),
    "subject.line_break": _("The subject contains a line break."),
    "sender.invalid": _("The sender is not a valid address."),
    "reply_to.invalid": _("The reply-to address is not valid."),
    "personalization": _("Personalization error."),
    "unsubscribe.missing": _("A marketing email needs an unsubscribe link."),
    "url.malformed": _("A link is malformed."),
    "size.too_large": _("The message is too large to be sent."),
    "size.large": _("The message is large: mailboxes may clip it."),
    "audience.missing": _("The delivery has no audience."),
    "audience.filter": _("The audience filter has an error."),
    "sender.liquid": _("The sender cannot be personalized: write a fixed address."),
    "reply_to.liquid": _("The reply-to address cannot be personalized: write a fixed "
                         "address."),
    "personalization.may_fail": _("Some targeted profiles lack a value the template "
                                  "divides by: their messages will not be sent."),
    "sending_domain.checks": _("The sending domain's DNS records are not all in place: "
                               "receivers may refuse the mail or file it as spam."),
}
FINDINGS_WITH_DETAIL = frozenset({"sender.invalid", "reply_to.invalid", "personalization",
                                  "url.malformed", "size.too_large", "size.large",
                                  "audience.filter", "sender.liquid", "reply_to.liquid",
                                  "personalization.may_fail", "sending_domain.checks"})
