"""The delivery dashboard: action bar, blocks, live deployment, charts and log tabs.

The dashboard is a list of blocks (:data:`BLOCKS`), each a template given the same
context. The *live* part — status, action bar and Deployment block — is one fragment
that the page asks for again every second while the delivery is being prepared or sent
(htmx polling), and that stops asking by itself once there is nothing left to watch. A
recurring delivery, which runs for days and sends nothing itself, is not watched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from envoi import clock
from envoi.accounts.services import Actor
from envoi.deliveries import lifecycle, recurring, services
from envoi.deliveries.models import Delivery, Status
from envoi.preparation.models import ExclusionReason
from envoi.reporting import kpis as kpi_rules
from envoi.reporting import services as reporting
from envoi.sending import personalization
from envoi.sending.models import SendStatus
from envoi.tracking.models import EventKind
from envoi.web import charts, queries
from envoi.web.labels import EVENT_LABELS, REASON_LABELS, SEND_STATUS_LABELS, label
from envoi.web.views.common import act, console, delivery_for, may
from envoi.web.views.schedule import asks_each_run, schedule_context

StrOrPromise = str | Promise

# The dashboard's blocks, top to bottom, under the action bar.
BLOCKS = ["web/blocks/summary.html", "web/blocks/schedule.html",
          "web/blocks/executions.html"]
TABS = {
    "sending": gettext_lazy("Sending log"),
    "exclusions": gettext_lazy("Exclusion log"),
    "tracking": gettext_lazy("Tracking log"),
    "preparation": gettext_lazy("Preparation log"),
}
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
]
DONE = {
    "prepare": gettext_lazy("The delivery was prepared."),
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
}
CALLS = {"prepare": services.prepare, "proof": services.send_proof,
         "approve": services.approve, "reject": services.reject,
         "confirm": services.confirm, "pause": services.pause,
         "resume": services.resume, "stop": services.stop,
         "activate": services.activate,
         "withdraw_confirmation": services.withdraw_confirmation}
RUNNING = frozenset({Status.IN_PROGRESS, Status.PAUSED})
# What each action needs: the permission its core function requires.
PERMISSIONS = {action.name: action.permission for action in ACTIONS}


def confirmed(delivery: Delivery) -> str:
    """What Confirm send did: sending, waiting for the contact date, or a schedule."""
    if delivery.status == Status.START_PENDING:
        return _("The send is confirmed: messages will be sent at the contact date.")
    if delivery.is_recurring:
        return _("The send is confirmed: the recurring delivery runs on its schedule.")
    return _("The send is confirmed: messages are being sent.")


def _status_allows(delivery: Delivery, action: str,
                   recurrence: dict[str, Any] | None) -> bool:
    """Whether the status (and, for a recurring delivery, its confirmation) allows
    ``action``; the core checks again when it is done."""
    if action == "proof":
        return delivery.status in lifecycle.PREPARED_STATES
    if action == "activate":
        return recurrence is not None and _startable(delivery)
    if action == "withdraw_confirmation":
        return (recurrence is not None and recurrence["confirmed_at"] is not None
                and delivery.status in RUNNING)
    if action == "confirm" and recurrence is not None and delivery.status in RUNNING:
        # A running schedule is confirmed once, and only where runs then send by
        # themselves (not when each run asks for its own confirmation).
        return recurrence["confirmed_at"] is None and not asks_each_run(recurrence)
    return action in lifecycle.allowed_moves(delivery.status)


def _startable(delivery: Delivery) -> bool:
    """Prepared, and approved where it must be: Confirm send (or Activate) may start it."""
    return delivery.status in lifecycle.MOVES["confirm"].sources


def action_bar(request: HttpRequest, delivery: Delivery,
               recurrence: dict[str, Any] | None) -> dict[str, Any]:
    """The buttons the status allows and the user may use, and the banner that tells
    a user why the Confirm send button is not there for them."""
    shown = [a for a in ACTIONS if _status_allows(delivery, a.name, recurrence)
             and may(request, a.permission)]
    awaiting_start = delivery.status in lifecycle.PREPARED_STATES
    return {
        "actions": shown,
        "recurrence": recurrence,
        "asks_each_run": asks_each_run(recurrence),
        "starts_later": delivery.start_at is not None and delivery.start_at > clock.now(),
        "confirm_banner": awaiting_start and not may(request, "delivery.confirm"),
        "may_edit": delivery.status in lifecycle.EDITABLE_STATES
        and may(request, "delivery.edit"),
        "may_delete": delivery.status not in lifecycle.SENDING_STATES
        and may(request, "delivery.delete"),
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
        figures, computed_at = reporting.stored_kpis(user, delivery)
        return {"phase": "after", "kpis": figures, "computed_at": computed_at}
    counts = kpi_rules.Counts(to_deliver=delivery.to_deliver)
    kpi_rules.add_sending_counts({delivery.pk: counts})  # one index-only query
    processed = counts.sent + counts.ignored
    progress = kpi_rules.ratio(processed, counts.to_deliver)
    seconds = max((timezone.now() - delivery.started_at).total_seconds(), 1.0)
    return {"phase": "sending", "counts": counts, "processed": processed,
            "progress": progress, "progress_width": round(min(progress, 1.0) * 100),
            "rate": round(counts.sent / seconds, 1)}


def _live_context(request: HttpRequest, delivery: Delivery,
                  recurrence: dict[str, Any] | None) -> dict[str, Any]:
    return {"delivery": delivery,
            "watch": delivery.status in WATCHED and recurrence is None,
            "deployment": deployment(request.user, delivery, recurrence is not None),
            "auto_pause": (personalization.auto_pause(delivery.pk)
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
        "log": log_context(request, delivery, tab)})


@console
def live(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.view")
    return render(request, "web/live.html",
                  _live_context(request, delivery, recurring.describe(delivery)))


@require_POST
@console
def action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    if name not in CALLS:
        raise Http404
    delivery = delivery_for(request, pk, PERMISSIONS[name])  # the core checks it again
    done = confirmed if name == "confirm" else str(DONE[name])
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
                             "reason": reason, "kind": kind}
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


@console
def log_tab(request: HttpRequest, pk: int, tab: str) -> HttpResponse:
    if tab not in TABS:
        raise Http404
    delivery = delivery_for(request, pk, "logs.view")
    return render(request, "web/logs.html",
                  {"log": log_context(request, delivery, tab), "tabs": TABS,
                   "delivery": delivery})
