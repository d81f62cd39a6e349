"""The audit log in words: each recorded action and its details, in the reader's language.

The core records stable codes (``delivery.approve``) with a detail mapping of its own
keys (``to_deliver``, ``roles``); people read a sentence and labelled values. An action
without a phrase here is shown as its code, and ``tests/web/test_audit_words.py`` fails
until it has one, so a new audited action cannot reach the log untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from envoi.accounts.roles import ACTION_ROLES
from envoi.web import labels
from envoi.web.errors import denial
from envoi.web.schedule import period_label

ACTION_PHRASES = {
    "audience.create": _("Created an audience"),
    "audience.edit": _("Changed an audience"),
    "audience.delete": _("Deleted an audience"),
    "delivery.create": _("Created the delivery"),
    "delivery.edit": _("Changed the delivery"),
    "delivery.delete": _("Deleted the delivery"),
    "delivery.archive": _("Archived the delivery"),
    "delivery.unarchive": _("Took the delivery out of the archive"),
    "delivery.reschedule": _("Moved the scheduled send"),
    "delivery.cancel_schedule": _("Cancelled the scheduled send"),
    "delivery.stop_executions": _("Stopped the waiting executions"),
    "delivery.prepare": _("Prepared the delivery"),
    "delivery.approve": _("Approved the delivery"),
    "delivery.reject": _("Rejected the delivery"),
    "delivery.confirm": _("Confirmed the send"),
    "delivery.activate": _("Activated the recurring delivery"),
    "delivery.withdraw_confirmation": _("Withdrew the confirmation"),
    "delivery.return_for_approval": _("Sent the delivery back for approval"),
    "delivery.execution": _("Ran a recurring execution"),
    "delivery.pause": _("Paused the delivery"),
    "delivery.resume": _("Resumed the delivery"),
    "delivery.stop": _("Stopped the delivery"),
    "delivery.auto_pause": _("The delivery paused itself"),
    "delivery.proof": _("Sent a proof"),
    "delivery.compute_stats": _("Computed the statistics"),
    "delivery.duplicate": _("Duplicated a delivery"),
    "delivery.from_template": _("Created a delivery from a template"),
    "delivery.view": _("Opened a delivery"),
    "profile.unsubscribe": _("A recipient unsubscribed"),
    "profile.import": _("Imported profiles"),
    "profile.view": _("Opened profiles"),
    "profile.mark_test": _("Changed whether a profile is a test profile"),
    "profile.export": _("Exported profiles"),
    "profile.create": _("Added profiles"),
    "profile.edit": _("Changed a profile"),
    "profile.sms_opt_out": _("A recipient replied STOP to an SMS"),
    "delivery.guard_pause": _("A sending guard paused the delivery"),
    "sending_domain.add": _("Added a sending domain"),
    "sending_domain.dkim_create": _("Created DKIM keys"),
    "sending_domain.dkim_retire": _("Retired DKIM keys"),
    "sending_domain.view": _("Opened sending domains"),
    "sending_domain.manage": _("Managed sending domains"),
    "profile.erase": _("Erased a profile"),
    "consent.grant": _("Recorded consent"),
    "consent.withdraw": _("Recorded a withdrawal of consent"),
    "consent.record": _("Recorded consent"),
    "consent.erase": _("Erased a profile"),
    "consent.notice": _("Sent a consent notice"),
    "consent.export": _("Exported a profile's data"),
    "qualification.add_rule": _("Added a qualification rule"),
    "qualification.delete_rule": _("Deleted a qualification rule"),
    "quarantine.release": _("Released an address from quarantine"),
    "template.create": _("Saved a template"),
    "template.edit": _("Changed a template"),
    "template.delete": _("Deleted a template"),
    "image.upload": _("Uploaded an image"),
    "brand.edit": _("Changed the brand of recipient pages"),
    "brand.reset": _("Reset the brand to the environment's"),
    "brand.manage": _("Managed the brand of recipient pages"),
    "token.create": _("Created an API token"),
    "token.revoke": _("Revoked an API token"),
    "users.create": _("Created a user"),
    "users.roles": _("Changed a user's roles"),
    "users.deactivate": _("Deactivated a user"),
    "users.reactivate": _("Reactivated a user"),
    "users.set_password": _("Set a user's password"),
    "users.reset_link": _("Created a password reset link"),
    "users.password_reset": _("Reset their password"),
    "users.manage": _("Managed users"),
    "webhook.refused": _("Refused a provider webhook"),
    "login.failed": _("A sign-in failed"),
    "retention.run": _("Aged out the logs past their retention period"),
    # Permissions, as they appear on a refused entry.
    "logs.view": _("Opened the logs"),
    "logs.export": _("Exported data"),
    "outbox.view": _("Opened the outbox"),
    "token.manage": _("Managed API tokens"),
    "quarantine.view": _("Opened the quarantine"),
    "quarantine.manage": _("Managed the quarantine"),
    "qualification.manage": _("Managed qualification rules"),
    "bounces.view": _("Opened received bounces"),
    "template.view": _("Opened templates"),
    "workers.view": _("Opened the workers page"),
    "metrics.view": _("Read the metrics"),
}

# Reasons the core records as words of its own, outside the permission table.
REASON_WORDS = {
    "throttled": _("Too many failed attempts: sign-in paused"),
    "wrong user name or password": _("Wrong user name or password"),
}

DETAIL_LABELS = {
    "label": _("Label"),
    "name": _("Name"),
    "fields": _("Fields"),
    "status": _("Status"),
    "reason": _("Reason"),
    "to_deliver": _("To deliver"),
    "number": _("Number"),
    "username": _("User"),
    "roles": _("Roles"),
    "audience": _("Audience"),
    "address": _("Address"),
    "previous_status": _("Previous status"),
    "rule": _("Rule"),
    "failure_type": _("Failure type"),
    "provider": _("Provider"),
    "image_id": _("Image"),
    "size": _("Size"),
    "template_id": _("Template"),
    "profile_id": _("Profile"),
    "is_test": _("Test profile"),
    "source_id": _("Copied from"),
    "execution_id": _("Execution"),
    "by": _("By"),
    "token_id": _("Token"),
    "owner": _("Owner"),
    "sessions_ended": _("Sessions ended"),
    "imported": _("Imported"),
    "refused": _("Refused"),
    "note": _("Note"),
    "expires": _("Expires"),
    "wait_seconds": _("Wait (seconds)"),
    "previous": _("Before"),
    "contact_date": _("Contact date"),
    "start_at": _("Starts at"),
    "run_at": _("Run at"),
    "period": _("Period"),
    "executions": _("Executions"),
    "added": _("Added"),
    "confirmed_by": _("Confirmed by"),
    "confirmed_at": _("Confirmed at"),
    "approved_by": _("Approved by"),
    "approved_at": _("Approved at"),
    "sender": _("Sender"),
    "targeted": _("Targeted"),
    "variants": _("Language variants"),
    "next_run_at": _("Next run"),
    "recurring": _("Recurring delivery"),
    "sends_by_itself": _("Sends by itself"),
    "created": _("Created"),
    "updated": _("Updated"),
    "skipped": _("Skipped"),
    "rejected": _("Rejected"),
    "mode": _("Mode"),
    "log": _("Log"),
    "deliveries": _("Deliveries"),
    "profile": _("Profile"),
    "channel": _("Channel"),
    "source": _("Source"),
    "suppressed": _("Kept as a suppressed hash"),
    "domain": _("Domain"),
    "selector": _("Selector"),
    "selectors": _("Selectors"),
    "signal": _("Signal"),
    "count": _("Count"),
    "processed": _("Messages judged"),
    "rate": _("Rate"),
    "threshold": _("Threshold"),
    "totals": _("Totals"),
    "reply": _("Reply"),
    "smsc": _("SMSC"),
    "kind": _("Kind"),
    "outcome": _("Outcome"),
    "purpose": _("Purpose"),
    # A retention run (envoi.ops.retention).
    "events": _("Tracking events removed"),
    "event_partitions": _("Tracking-log partitions dropped"),
    "anonymised_deliveries": _("Deliveries anonymised"),
    "anonymised_rows": _("Sending-log rows anonymised"),
    "inbound_messages": _("Bounce messages removed"),
    "audit_entries": _("Audit entries removed"),
    "events_before": _("Tracking events before"),
    "sending_before": _("Deliveries ended before"),
    "bounces_before": _("Bounce messages before"),
    "audit_before": _("Audit entries before"),
}

# Detail values that are codes of the core, by key.
VALUE_WORDS = {
    "mode": {"update": _("Update existing profiles"), "skip": _("Skip existing profiles"),
             "add": _("Add new profiles only")},
    "channel": {"email": _("Email"), "sms": _("SMS")},
    "signal": {"complaints": _("Spam complaints"), "hard_bounces": _("Hard bounces"),
               "provider_soft_failures": _("A provider's soft failures")},
    "source": {"import": _("Import"), "form": _("Subscription form"), "api": _("API"),
               "console": _("Console")},
    "kind": {"reconfirm": _("Reconfirmation of consent"),
             "granted": _("Result of an opt-in"), "withdrawn": _("Result of an opt-out")},
    "outcome": {"sent": pgettext_lazy("message status", "Sent"), "failed": _("Failed")},
    "purpose": {"marketing": _("Marketing"),
                "night": _("Advertising at night (21:00-08:00)")},
    "log": {"sending": _("Sending log"), "exclusion": _("Exclusion log"),
            "exclusions": _("Exclusion log"), "tracking": _("Tracking log"), "kpis": _("KPIs")},
}
# Details kept for machines (the approval's content hash): not shown to people.
HIDDEN_DETAILS = frozenset({"content_hash"})

# Detail values that are instants, stored as ISO text: shown as the reader writes a time.
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


# The delivery fields an edit names, as the form calls them (never ``html_body``).
FIELD_WORDS = {
    "label": _("Label"), "sender": _("Sender"), "reply_to": _("Reply to"),
    "subject": _("Subject"), "audience": _("Audience"), "audience_id": _("Audience"),
    "html_body": _("HTML content"), "text_body": _("Text content"),
    "mjml_body": _("MJML source"), "preheader": _("Preheader"),
    "content_mode": _("Content mode"), "variants": _("Language variants"),
    "marketing": _("Marketing message (must carry an unsubscribe link)"),
    "approval_required": _("Approval required before sending"),
    "contact_date": _("Contact date"), "time_zone": _("Time zone"),
    "recipient_time_zone": _("Send at the recipient's time zone"),
    "recurrence": _("Recurring delivery"), "period": _("Aggregation period"),
}


@dataclass(frozen=True)
class Detail:
    label: str
    value: str


def phrase(action: str) -> str:
    found = ACTION_PHRASES.get(action)
    return str(found) if found is not None else action


def details(entry: Any) -> list[Detail]:
    """The entry's details as labelled values; a refusal reads as the refused user did."""
    shown = []
    for key, value in (entry.detail or {}).items():
        if key in HIDDEN_DETAILS:
            continue
        if key == "reason" and not entry.allowed and entry.action in ACTION_ROLES:
            shown.append(Detail(str(DETAIL_LABELS["reason"]), denial(entry.action)))
            continue
        shown.append(Detail(str(DETAIL_LABELS.get(key, key)), _value(key, value)))
    return shown


def _value(key: str, value: Any) -> str:
    if key in VALUE_WORDS and isinstance(value, str):
        return labels.label(VALUE_WORDS[key], value)
    if key == "period" and isinstance(value, str):
        return period_label(value, None) if "T" not in value else _moment(value)
    if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
        return _moment(value)
    if key == "reason":
        return labels.label({**REASON_WORDS, **labels.REASON_LABELS}, str(value))
    if key in ("status", "previous_status"):
        return labels.label(labels.STATUS_LABELS, str(value))
    if key == "roles" and isinstance(value, Iterable) and not isinstance(value, str):
        return ", ".join(labels.label(labels.ROLE_LABELS, str(role)) for role in value)
    if key == "fields" and isinstance(value, list):
        return ", ".join(labels.label(FIELD_WORDS, str(field)) for field in value)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, list):
        return ", ".join(_value(key, item) for item in value)
    if key == "variants" and isinstance(value, dict):  # to deliver per language variant
        default = str(_("Default variant"))
        return ", ".join(f"{language or default}: {count}" for language, count in value.items())
    if isinstance(value, dict):  # an object as it was: its name, or its language
        return str(value.get("name") or value.get("language") or value.get("id") or "")
    return str(value)


def _moment(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} {local.tzname()}"
