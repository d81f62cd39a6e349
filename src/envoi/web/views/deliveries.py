"""The deliveries list, and the form that creates or edits a delivery."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.deliveries import services
from envoi.deliveries.models import Delivery, Status
from envoi.web import queries
from envoi.web.errors import REFUSALS, message_of
from envoi.web.forms import DeliveryForm, delivery_initial
from envoi.web.labels import STATUS_LABELS
from envoi.web.views.common import console, get_or_404, may, requires


@requires("delivery.view")
def delivery_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    search = request.GET.get("q", "").strip()[:200]
    page = queries.page_of(queries.deliveries(status, search),
                           queries.page_number(request.GET.get("page")))
    sent = queries.sent_counts(page.rows)
    rows = [(delivery, sent[delivery.pk]) for delivery in page.rows]
    return render(request, "web/deliveries.html", {
        "page": page, "rows": rows, "status": status, "search": search,
        "statuses": list(STATUS_LABELS.items()),
        "may_create": may(request, "delivery.create")})


def _save(request: HttpRequest, form: DeliveryForm, delivery: Delivery | None) -> Delivery | None:
    """Hand the form to the core — message and schedule, as the API takes them; on
    refusal, put the reason on the form."""
    fields = {**form.message(), **form.schedule()}
    try:
        if delivery is None:
            return services.create(request.user, **fields)
        return services.update(request.user, delivery, **fields)
    except REFUSALS as error:
        form.show_refusal(message_of(error))
        return None


@console
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
    delivery = get_or_404(Delivery, pk)
    form = DeliveryForm(request.POST or None, initial=delivery_initial(delivery))
    if request.method == "POST" and form.is_valid() and _save(request, form, delivery):
        messages.success(request, _("The delivery was saved."))
        return redirect("web:delivery", delivery.pk)
    return render(request, "web/delivery_form.html", {"form": form, "delivery": delivery},
                  status=400 if form.errors else 200)


@require_POST
@console
def delivery_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.require_before_lookup(request.user, "delivery.delete", pk)
        services.delete(request.user, get_or_404(Delivery, pk))
    except REFUSALS as error:
        messages.error(request, message_of(error))
        return redirect("web:delivery", pk)
    messages.success(request, _("The delivery was deleted."))
    return redirect("web:deliveries")

