"""The deliveries list, and the form that creates or edits a delivery."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.deliveries import services
from envoi.deliveries.models import Delivery, Recurrence, Status
from envoi.web import queries
from envoi.web.errors import message_of
from envoi.web.forms import DeliveryForm, delivery_initial
from envoi.web.labels import STATUS_LABELS
from envoi.web.views.common import BANNER_REFUSALS, console, delivery_for, may, requires


@requires("delivery.view")
def delivery_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    search = request.GET.get("q", "").strip()[:200]
    show = request.GET.get("show", "")
    show = show if show in queries.LIST_SHOWS else ""
    page = queries.page_of(queries.deliveries(status, search, show),
                           queries.page_number(request.GET.get("page")))
    sent = queries.sent_counts(page.rows)
    runs = queries.execution_counts(page.rows)
    rows = [(delivery, sent[delivery.pk], runs.get(delivery.pk, 0), scheduled_for(delivery))
            for delivery in page.rows]
    return render(request, "web/deliveries.html", {
        "page": page, "rows": rows, "status": status, "search": search, "show": show,
        "shows": [("", _("Deliveries")), ("executions", _("Deliveries and executions")),
                  ("archived", _("Archived deliveries"))],
        "statuses": list(STATUS_LABELS.items()),
        "may_create": may(request, "delivery.create")})


def scheduled_for(delivery: Delivery) -> datetime | None:
    """When the delivery goes (or went) out: its contact date, or a recurring delivery's
    next run."""
    if delivery.contact_date is not None:
        return delivery.contact_date
    try:
        recurrence = delivery.recurrence  # selected with the delivery: no query
    except Recurrence.DoesNotExist:
        return None
    return recurrence.next_run_at


def _save(request: HttpRequest, form: DeliveryForm, delivery: Delivery | None) -> Delivery | None:
    """Hand the form to the core — message and schedule, as the API takes them; on
    refusal, put the reason on the form."""
    fields = {**form.message(), **form.schedule()}
    try:
        if delivery is None:
            return services.create(request.user, **fields)
        return services.update(request.user, delivery, **fields)
    except BANNER_REFUSALS as error:
        form.show_refusal(message_of(error))
        return None


@requires("delivery.create")
def delivery_create(request: HttpRequest) -> HttpResponse:
    zone = timezone.get_current_timezone_name()  # the reader's, from the browser
    form = DeliveryForm(request.POST or None, initial={"time_zone": zone})
    if request.method == "POST" and form.is_valid():
        delivery = _save(request, form, None)
        if delivery is not None:
            messages.success(request, _("The delivery was created."))
            return redirect("web:delivery", delivery.pk)
    return render(request, "web/delivery_form.html", {"form": form, "delivery": None},
                  status=400 if form.errors else 200)


@console
def delivery_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The form shows the delivery's content and takes its changes: both need the right
    to edit it, as the API's PATCH does (reading alone is the dashboard's)."""
    delivery = delivery_for(request, pk, "delivery.edit")
    form = DeliveryForm(request.POST or None, initial=delivery_initial(delivery))
    if request.method == "POST" and form.is_valid() and _save(request, form, delivery):
        messages.success(request, _("The delivery was saved."))
        return redirect("web:delivery", delivery.pk)
    return render(request, "web/delivery_form.html", {"form": form, "delivery": delivery},
                  status=400 if form.errors else 200)


@require_POST
@console
def delivery_delete(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.delete")
    try:
        services.delete(request.user, delivery)
    except BANNER_REFUSALS as error:
        messages.error(request, message_of(error))
        return redirect("web:delivery", pk)
    messages.success(request, _("The delivery was deleted."))
    return redirect("web:deliveries")

