"""The delivery dashboard: action bar, blocks, live deployment, charts and log tabs.

The dashboard is a list of blocks (:data:`BLOCKS`), each a template given the same
context. The *live* part — status, action bar and Deployment block — is one fragment
that the page asks for again every second while the delivery is being prepared or sent
(htmx polling), and that stops asking by itself once there is nothing left to watch. A
recurring delivery, which runs for days and sends nothing itself, is not watched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from envoi import clock
from envoi.accounts.services import Actor
from envoi.consent.services import unsubscribe_reasons
from envoi.deliveries import lifecycle, recurring, scheduling, services
from envoi.deliveries.models import Delivery, Status
from envoi.preparation.models import ExclusionReason
from envoi.reporting import kpis as kpi_rules
from envoi.reporting import services as reporting
from envoi.sending import guards, personalization
from envoi.sending.models import SendStatus
from envoi.tracking.models import EventKind
from envoi.web import charts, queries
from envoi.web import schedule as schedule_words
from envoi.web.labels import EVENT_LABELS, REASON_LABELS, SEND_STATUS_LABELS, label
from envoi.web.views.common import Outcome, act, console, delivery_for, may
from envoi.web.views.schedule import asks_each_run, schedule_context

StrOrPromise = str | Promise

# The dashboard's blocks, top to bottom, under the action bar.
BLOCKS = ["web/blocks/approval.html", "web/blocks/summary.html",
          "web/blocks/variant_kpis.html", "web/blocks/schedule.html",
          "web/blocks/executions.html"]
TABS = {
    "sending": gettext_lazy("Sending log"),
    "exclusions": gettext_lazy("Exclusion log"),
    "tracking": gettext_lazy("Tracking log"),
    "preparation": gettext_lazy("Preparation log"),
}
UTC_ZONE = ZoneInfo("UTC")
LIVE_EVENT = "envoi-live"
WATCHED = {Status.PREPARING, *lifecycle.SENDING_STATES}


@dataclass(frozen=True)
class Action:
    name: str
    label: StrOrPromise
    permission: str
    style: str = ""


ACTIONS = [
    Action("prepare", gettext_lazy("Prepare"), "delivery.prepare"),
    Action("proof", gettext_lazy("Send proof"), "delivery.proof"),
    Action("approve", gettext_lazy("Approve"), "delivery.approve", "primary"),
    Action("reject", gettext_lazy("Reject"), "delivery.reject", "danger"),
    Action("confirm", gettext_lazy("Confirm send"), "delivery.confirm", "primary"),
    # Recurring deliveries only: run the schedule without letting its runs send by
    # themselves (the Workflow role may), and take back the confirmation that lets them.
    Action("activate", gettext_lazy("Activate"), "delivery.activate"),
    Action("withdraw_confirmation", gettext_lazy("Withdraw confirmation"), "delivery.confirm"),
    Action("pause", gettext_lazy("Pause"), "delivery.pause"),
    Action("resume", gettext_lazy("Resume"), "delivery.resume"),
    Action("stop", gettext_lazy("Stop"), "delivery.stop", "danger"),
    # A scheduled send (Start pending): move it later, or take it back.
    Action("reschedule", gettext_lazy("Reschedule"), "delivery.confirm"),
    Action("cancel_schedule", gettext_lazy("Cancel the scheduled send"), "delivery.confirm"),
    Action("archive", gettext_lazy("Archive"), "delivery.delete"),
    Action("unarchive", gettext_lazy("Unarchive"), "delivery.delete"),
]
DONE = {
    "proof": gettext_lazy("The proof was sent to the test profiles."),
    "approve": gettext_lazy("The delivery was approved."),
    "reject": gettext_lazy("The delivery was rejected: it is back in editing."),
    "activate": gettext_lazy("The recurring delivery is active: each run will wait for a "
                             "confirmation before sending."),
    "withdraw_confirmation": gettext_lazy("The confirmation was withdrawn: each run will "
                                          "wait for a confirmation before sending."),
    "pause": gettext_lazy("Sending is paused."),
    "resume": gettext_lazy("Sending has resumed."),
    "stop": gettext_lazy("Sending was stopped."),
    "cancel_schedule": gettext_lazy("The scheduled send was cancelled: the delivery waits "
                                    "for a confirmation again."),
    "archive": gettext_lazy("The delivery was archived: it is hidden from lists, and its "
                            "logs and links stay."),
    "unarchive": gettext_lazy("The delivery is no longer archived."),
}
CALLS: dict[str, Callable[..., Any]] = {"prepare": services.prepare, "proof": services.send_proof,
         "approve": services.approve, "reject": services.reject,
         "confirm": services.confirm, "pause": services.pause,
         "resume": services.resume, "stop": services.stop,
         "activate": services.activate,
         "withdraw_confirmation": services.withdraw_confirmation,
         "reschedule": services.reschedule, "cancel_schedule": services.cancel_schedule,
         "archive": services.archive, "unarchive": services.unarchive}
# What each action needs: the permission its core function requires.
PERMISSIONS = {action.name: action.permission for action in ACTIONS}


def prepared(delivery: Delivery) -> str | Outcome:
    """What Prepare did: the status it left, never "prepared" for a failure."""
    if delivery.status == Status.PREPARATION_FAILED:
        return Outcome(_("Preparation failed: the preparation log says what to correct."),
                       messages.ERROR)
    if delivery.status == Status.PENDING_APPROVAL:
        return _("The delivery was prepared: it waits for approval.")
    return _("The delivery was prepared.")


def stopped(delivery: Delivery) -> str:
    if delivery.parent_id is None and recurring.spec_of(delivery) is not None:
        return _("The recurring delivery was stopped: no run will be sent any more.")
    return _("Sending was stopped.")


def confirmed(delivery: Delivery) -> str:
    """What Confirm send did: sending, waiting for the contact date, or a schedule."""
    if delivery.status == Status.START_PENDING:
        return _("The send is confirmed: messages will be sent at the contact date.")
    if delivery.is_recurring:
        return _("The send is confirmed: the recurring delivery runs on its schedule.")
    return _("The send is confirmed: messages are being sent.")


def rescheduled(delivery: Delivery) -> str:
    moment = delivery.contact_date or delivery.start_at or clock.now()
    local = moment.astimezone(scheduling.zone_or(delivery.time_zone, UTC_ZONE))
    when = f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} {local.tzname()}"
    return _("The send was moved to %(when)s.") % {"when": when}


# Actions whose message depends on what they did.
SAY: dict[str, Callable[[Delivery], str | Outcome]] = {
    "prepare": prepared, "confirm": confirmed, "stop": stopped, "reschedule": rescheduled}


def action_bar(request: HttpRequest, delivery: Delivery,
               recurrence: dict[str, Any] | None) -> dict[str, Any]:
    """The buttons for what the user may do now (``services.available_actions``, the
    answer the API and the CLI give too), and the banner that tells a user why the
    Confirm send button is not there for them."""
    available = services.available_actions(request.user, delivery)
    awaiting_start = delivery.status in lifecycle.PREPARED_STATES
    return {
        "actions": [a for a in ACTIONS if a.name in available],
        "available": available,
        "recurrence": recurrence,
        "schedule_words": schedule_words.readable(recurrence["cron"]) if recurrence else None,
        "asks_each_run": asks_each_run(recurrence),
        "starts_later": delivery.start_at is not None and delivery.start_at > clock.now(),
        "confirm_banner": awaiting_start and not may(request, "delivery.confirm"),
        "may_edit": "edit" in available,
        "may_delete": "delete" in available,
    }


def deployment(user: Actor, delivery: Delivery, recurring_parent: bool = False
               ) -> dict[str, Any]:
    """Before sending: targeted and to deliver. While sending: live progress, read from
    the sending log. After: the KPIs as last computed (with their time) — the hourly
    job and Compute stats recompute them from the logs. A running recurring delivery
    sends nothing itself: it shows its executions' KPIs, summed, as last computed."""
    if delivery.started_at is None:
        return {"phase": "before"}
    if delivery.status not in lifecycle.SENDING_STATES or recurring_parent:
        from envoi.reporting.sms import CHANNEL_KPIS

        figures, computed_at = reporting.stored_kpis(user, delivery)
        channel_kpis = CHANNEL_KPIS.get(delivery.channel)
        return {"phase": "after", "kpis": figures, "computed_at": computed_at,
                "sms": channel_kpis(delivery) if channel_kpis else None,
                "unsubscribe_reasons": reasons_given(delivery)}
    counts = kpi_rules.Counts(to_deliver=delivery.to_deliver)
    kpi_rules.add_sending_counts({delivery.pk: counts})  # one index-only query
    processed = counts.sent + counts.ignored
    progress = kpi_rules.ratio(processed, counts.to_deliver)
    seconds = max((timezone.now() - delivery.started_at).total_seconds(), 1.0)
    return {"phase": "sending", "counts": counts, "processed": processed,
            "progress": progress, "progress_width": round(min(progress, 1.0) * 100),
            "rate": round(counts.sent / seconds, 1),
            "unsubscribe_reasons": reasons_given(delivery)}


def reasons_given(delivery: Delivery) -> list[tuple[str, int]]:
    """The reasons people gave when they unsubscribed from the delivery's messages,
    most given first (the API's KPIs give the same counts)."""
    given = unsubscribe_reasons([delivery.pk])[delivery.pk]
    return sorted(given.items(), key=lambda item: (-item[1], item[0]))


def _live_context(request: HttpRequest, delivery: Delivery,
                  recurrence: dict[str, Any] | None) -> dict[str, Any]:
    return {"delivery": delivery,
            "watch": delivery.status in WATCHED and recurrence is None,
            "deployment": deployment(request.user, delivery, recurrence is not None),
            "auto_pause": (personalization.auto_pause(delivery.pk)
                           if delivery.status == Status.PAUSED else None),
            "guard_pause": (guards.guard_pause(delivery.pk)
                            if delivery.status == Status.PAUSED else None),
            **action_bar(request, delivery, recurrence)}


def _default_tab(delivery: Delivery) -> str:
    if delivery.started_at is not None:
        return "sending"
    return "preparation" if delivery.prepared_at else "exclusions"


@console
def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.view")
    tab = request.GET.get("tab", "")
    tab = tab if tab in TABS else _default_tab(delivery)
    recurrence = recurring.describe(delivery)
    return render(request, "web/dashboard.html", {
        **_live_context(request, delivery, recurrence), "blocks": BLOCKS, "tabs": TABS,
        "schedule": schedule_context(request, delivery, recurrence),
        "log": log_context(request, delivery, tab), **content_context(request, delivery)})


def content_context(request: HttpRequest, delivery: Delivery) -> dict[str, Any]:
    """The content side of the dashboard: the last rejection's reason, what an
    approver approves (while it awaits approval), and the KPIs of each variant."""
    from datetime import datetime

    from envoi.content.kpis import variant_kpis
    from envoi.web.views.review import approval_context, variant_label

    rejection = dict(delivery.rejection or {})
    if rejection.get("at"):
        rejection["at"] = datetime.fromisoformat(rejection["at"])
    found: dict[str, Any] = {"rejection": rejection,
                             "may_template": may(request, "template.edit"),
                             "may_duplicate": may(request, "delivery.create")}
    if delivery.status == Status.PENDING_APPROVAL:
        found["approval_review"] = approval_context(delivery)
    if delivery.started_at is not None or delivery.is_recurring:
        by_variant = variant_kpis(request.user, delivery)
        if len(by_variant) > 1 or any(by_variant):  # more than the default alone
            found["variant_kpis"] = [(variant_label(code), kpis)
                                     for code, kpis in by_variant.items()]
    return found


@console
def live(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.view")
    response = render(request, "web/live.html",
                      _live_context(request, delivery, recurring.describe(delivery)))
    # The log tab below listens for this event, and fetches itself again with the block.
    response["HX-Trigger"] = LIVE_EVENT
    return response


@require_POST
@console
def action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    if name not in CALLS:
        raise Http404
    delivery = delivery_for(request, pk, PERMISSIONS[name])  # the core checks it again
    done = SAY[name] if name in SAY else str(DONE[name])
    if name == "reschedule":
        typed = request.POST.get("contact_date", "")[:64]  # the dialog's datetime-local
        return act(request, lambda: services.reschedule(request.user, delivery, typed),
                   done, "web:delivery", pk)
    if name == "approve":  # the preparation the approver's screen showed, and no other
        seen = request.POST.get("content_hash") or None
        return act(request, lambda: services.approve(request.user, delivery, seen), done,
                   "web:delivery", pk)
    if name == "reject":  # a reason is required; the preparer reads it on the dashboard
        reason = request.POST.get("reason", "")
        return act(request, lambda: services.reject(request.user, delivery, reason), done,
                   "web:delivery", pk)
    return act(request, lambda: CALLS[name](request.user, delivery), done, "web:delivery", pk)


@require_POST
@console
def compute_stats(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.view")
    return act(request, lambda: reporting.compute_stats(request.user, delivery),
               _("The statistics were computed from the logs."), "web:delivery", pk)


@console
def delivery_charts(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.view")
    step, engagement = queries.engagement_over_time(delivery)
    opens_clicks = charts.counts_over_time(
        "engagement", _("Opens and clicks over time"), step, engagement,
        {"opens": _("Opens"), "clicks": _("Clicks")})
    step, sent = queries.throughput(delivery)
    throughput = charts.rate_over_time("throughput", _("Throughput over time"), step,
                                       sent["sent"], _("Messages sent"))
    by_reason = charts.by_category("failures", _("Failures by reason"), [
        (label(REASON_LABELS, reason or kind), count)
        for kind, reason, count in queries.failures_by_reason(delivery.pk)])
    return render(request, "web/charts.html",
                  {"charts": [opens_clicks, throughput, by_reason], "delivery": delivery})


# Log tabs -----------------------------------------------------------------------------


def log_context(request: HttpRequest, delivery: Delivery, tab: str) -> dict[str, Any]:
    """One page of one log, filtered as the tab's form asks."""
    number = queries.page_number(request.GET.get("page"))
    status = request.GET.get("status", "")
    reason = request.GET.get("reason", "")[:64]
    kind = request.GET.get("kind", "")
    found: dict[str, Any] = {"tab": tab, "delivery": delivery, "status": status,
                             "reason": reason, "kind": kind,
                             "refresh_url": _log_url(delivery, tab, request)}
    if tab == "sending":
        status = status if status in SendStatus.values else ""
        found["page"] = queries.page_of(queries.sending_log(delivery.pk, status, reason), number)
        found["statuses"] = list(SEND_STATUS_LABELS.items())
    elif tab == "exclusions":
        reason = reason if reason in ExclusionReason.values else ""
        found["page"] = queries.page_of(queries.exclusion_log(delivery.pk, reason), number)
        found["reasons"] = [(code, REASON_LABELS[code]) for code in ExclusionReason.values]
    elif tab == "tracking":
        kind = kind if kind in EventKind.values else ""
        found["page"] = queries.page_of(queries.tracking_log(delivery.pk, kind), number)
        found["kinds"] = list(EVENT_LABELS.items())
    else:
        found["findings"] = queries.preparation_log(delivery.pk)
    return found


def _log_url(delivery: Delivery, tab: str, request: HttpRequest) -> str:
    """This tab, page and filter, as fetched again each time the live block refreshes
    (so that the sending log turns Sent without a reload)."""
    query = QueryDict(mutable=True)
    for name in ("status", "reason", "kind", "page"):
        if request.GET.get(name):
            query[name] = request.GET[name][:64]
    url = reverse("web:delivery_log", args=[delivery.pk, tab])
    return f"{url}?{query.urlencode()}" if query else url


@console
def log_tab(request: HttpRequest, pk: int, tab: str) -> HttpResponse:
    if tab not in TABS:
        raise Http404
    delivery = delivery_for(request, pk, "logs.view")
    return render(request, "web/logs.html",
                  {"log": log_context(request, delivery, tab), "tabs": TABS,
                   "delivery": delivery})
