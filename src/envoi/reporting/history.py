"""A profile's history (SPEC §10): what it was sent, and what it did with it.

* **messages**: every sending-log row of the profile (whatever its status, which says
  whether it went out), with its delivery, channel, date (``sent_at``, else the time of
  its last outcome, ``updated_at``), failure type and reason, and the mirror-page link
  of messages that went out;
* **events**: every tracking event of the profile still kept;
* **sms_replies**: the SMS replies matched to it by number, STOP among them;
* **first_contact_at**: when the first message that went out was sent;
* **touchpoints**: how many messages went out to the profile (status ``sent`` or
  ``delivered``): the times Envoi reached it, whatever it did with them.

The totals (``message_count``, ``touchpoints``, ``first_contact_at``, ``event_count``)
also count what retention anonymised or rolled up, so they never change; the lists hold
what is still kept. Both lists are newest first and capped at :data:`HISTORY_LIMIT`
entries each; the totals say how many there are in all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from envoi.accounts.services import Actor, require
from envoi.audiences.models import Profile
from envoi.deliveries.models import Delivery
from envoi.reporting.kpis import DELIVERED_STATUSES
from envoi.sending.models import ProfileMessageSummary, SendingLog
from envoi.tracking.models import EventRollup, TrackingEvent
from envoi.tracking.tokens import mirror_url

HISTORY_LIMIT = 500
WENT_OUT = Q(status__in=DELIVERED_STATUSES)
EVENT_FIELDS = ("id", "kind", "url", "link_index", "at", "machine", "delivery_id", "row_id")


def profile_history(user: Actor, profile: Profile) -> dict[str, Any]:
    """The history of ``profile``, for a user allowed to read the logs."""
    require(user, "logs.view")
    rows = SendingLog.objects.filter(profile_id=profile.pk)
    summary = rows.aggregate(
        message_count=Count("*"), touchpoints=Count("id", filter=WENT_OUT),
        first_contact_at=Min("sent_at", filter=WENT_OUT))
    _add_anonymised(summary, profile.pk)
    events = TrackingEvent.objects.filter(profile_id=profile.pk)
    rolled_up = EventRollup.objects.filter(profile_id=profile.pk).aggregate(n=Sum("events"))
    return {"profile_id": profile.pk, **summary,
            "event_count": events.count() + (rolled_up["n"] or 0),
            "messages": _messages(rows), "events": _events(events),
            "sms_replies": _sms_replies(profile)}


def _sms_replies(profile: Profile) -> list[dict[str, Any]]:
    """The SMS replies matched to the profile by number (STOP among them), newest first."""
    from envoi.bounces.models import InboundSms

    replies = (InboundSms.objects.filter(profile_id=profile.pk, kind=InboundSms.REPLY)
               .order_by("-id").values("received_at", "source", "text", "stop", "row_id"))
    return [dict(reply) for reply in replies[:HISTORY_LIMIT]]


def _add_anonymised(summary: dict[str, Any], profile_id: int) -> None:
    """Count the messages whose sending-log rows retention anonymised (their summary
    is all that is left of them), so that the totals never change."""
    kept = ProfileMessageSummary.objects.filter(profile_id=profile_id).first()
    if kept is None:
        return
    summary["message_count"] += kept.messages
    summary["touchpoints"] += kept.touchpoints
    firsts = [t for t in (summary["first_contact_at"], kept.first_contact_at) if t]
    summary["first_contact_at"] = min(firsts, default=None)


def _messages(rows: QuerySet[SendingLog]) -> list[dict[str, Any]]:
    newest = (rows.annotate(date=Coalesce("sent_at", "updated_at"))
              .order_by(F("date").desc(nulls_first=True), "-id")[:HISTORY_LIMIT]
              .values("id", "delivery_id", "status", "failure_type", "failure_reason",
                      "date", "sent_at"))
    found = list(newest)
    deliveries = {pk: (label, channel) for pk, label, channel in Delivery.objects.filter(
        pk__in={row["delivery_id"] for row in found}).values_list("pk", "label", "channel")}
    return [_message(row, *deliveries.get(row["delivery_id"], ("", ""))) for row in found]


def _message(row: Mapping[str, Any], label: str, channel: str) -> dict[str, Any]:
    went_out = row["status"] in DELIVERED_STATUSES
    return {"row_id": row["id"], "delivery_id": row["delivery_id"], "label": label,
            "channel": channel, "date": row["date"], "status": row["status"],
            "failure_type": row["failure_type"], "failure_reason": row["failure_reason"],
            "mirror_url": mirror_url(row["delivery_id"], row["id"], row["sent_at"])
            if went_out else None}


def _events(events: QuerySet[TrackingEvent]) -> list[dict[str, Any]]:
    return list(events.order_by("-at", "-id")[:HISTORY_LIMIT].values(*EVENT_FIELDS))
