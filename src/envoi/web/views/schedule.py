"""The dashboard's Schedule block, a recurring delivery's executions, and the block's
*Request confirmation before sending* switch (SPEC §4).

The block reads the schedule as the API shows it (``recurring.describe``); the switch
saves the same ``recurrence`` the API takes, through the same ``services.update``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.deliveries import lifecycle, recurring, services
from envoi.deliveries.models import Delivery, Status
from envoi.web import queries, schedule
from envoi.web.views.common import act, console, delivery_for, may

EXECUTIONS_ON_DASHBOARD = 10


def asks_each_run(recurrence: dict[str, Any] | None) -> bool:
    """Whether each run waits for its own confirmation (SPEC §4)."""
    return bool(recurrence and recurrence["request_confirmation"]
                and recurrence["aggregation"] == "none")


def execution_rows(executions: list[Delivery]) -> list[tuple[Delivery, int, bool]]:
    """Each execution with its sent count, and whether it waits for a confirmation."""
    sent = queries.sent_counts(executions)
    return [(execution, sent[execution.pk], execution.status == Status.READY)
            for execution in executions]


def schedule_context(request: HttpRequest, delivery: Delivery,
                     recurrence: dict[str, Any] | None) -> dict[str, Any]:
    """What the Schedule and Executions blocks show."""
    found: dict[str, Any] = {"recurrence": recurrence, "parent": None}
    if delivery.parent_id:
        found["parent"] = Delivery.objects.filter(pk=delivery.parent_id).only(
            "id", "label", "approval").first()
    if recurrence is None:
        return found
    listed = list(recurring.executions(delivery)[:EXECUTIONS_ON_DASHBOARD + 1])
    found.update(
        readable=schedule.readable(recurrence["cron"]),
        asks_each_run=asks_each_run(recurrence),
        running=delivery.status in lifecycle.SENDING_STATES,
        executions=execution_rows(listed[:EXECUTIONS_ON_DASHBOARD]),
        more_executions=len(listed) > EXECUTIONS_ON_DASHBOARD,
        may_switch=recurrence["aggregation"] == "none"
        and delivery.status in lifecycle.EDITABLE_STATES and may(request, "delivery.edit"))
    return found


@console
def executions(request: HttpRequest, pk: int) -> HttpResponse:
    parent = delivery_for(request, pk, "delivery.view")
    page = queries.page_of(recurring.executions(parent),
                           queries.page_number(request.GET.get("page")))
    return render(request, "web/executions.html", {
        "delivery": parent, "page": page, "rows": execution_rows(page.rows)})


@require_POST
@console
def request_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn *Request confirmation before sending* on or off: the schedule is saved
    again with only that changed (the same right as the API's PATCH, checked first)."""
    delivery = delivery_for(request, pk, "delivery.edit")
    spec = recurring.spec_of(delivery)
    if spec is None:
        raise Http404
    wanted = request.POST.get("request_confirmation") == "on"
    recurrence: dict[str, Any] = {"cron": spec.cron, "aggregation": spec.aggregation,
                                  "request_confirmation": wanted}
    if spec.ends_at is not None:
        recurrence["ends_at"] = spec.ends_at
    done = (_("Each run will wait for a confirmation before sending.") if wanted
            else _("Runs will be sent by themselves once a user with the Start deliveries "
                   "role has confirmed the recurring delivery."))
    return act(request, lambda: services.update(request.user, delivery, recurrence=recurrence),
               done, "web:delivery", pk)
