"""The deliveries list, and the form that creates or edits a delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.forms import BaseFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.deliveries import services
from envoi.deliveries.models import Delivery, Recurrence, Status
from envoi.preparation.control import ERROR
from envoi.preparation.rules import market_findings, missing_suggestions
from envoi.preparation.rules.fixes import fixes_for
from envoi.preparation.services import draft_findings
from envoi.web import queries
from envoi.web.content_form import (
    COMMON_LANGUAGES,
    attach_findings,
    posted_findings,
    posted_variants,
    variant_formset,
)
from envoi.web.errors import message_of
from envoi.web.forms import DeliveryForm, delivery_initial
from envoi.web.labels import STATUS_LABELS
from envoi.web.views.common import BANNER_REFUSALS, console, delivery_for, may, requires
from envoi.web.views.editor import editor_config, editor_policy


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


def _save(request: HttpRequest, form: DeliveryForm, variants: BaseFormSet,
          delivery: Delivery | None) -> Delivery | None:
    """Hand the form to the core — message, variants and schedule, as the API takes
    them; on refusal, put the reason on the form."""
    fields = {**form.message(), **form.schedule()}
    given = posted_variants(variants)
    if given is not None:
        fields["variants"] = given
    try:
        if delivery is None:
            return services.create(request.user, **fields)
        return services.update(request.user, delivery, **fields)
    except BANNER_REFUSALS as error:
        form.show_refusal(message_of(error))
        form.refused = True  # type: ignore[attr-defined]
        return None


def _saved(request: HttpRequest, delivery: Delivery, created: bool) -> HttpResponse:
    """To the dashboard; back to the form when the content has errors to fix (the
    draft is kept all the same: preparation is what they block)."""
    errors = [f for f in draft_findings(delivery) if f.level == ERROR]
    if errors:
        messages.warning(request, _("The draft was saved. Fix the problems shown before "
                                    "preparing it."))
        return redirect("web:delivery_edit", delivery.pk)
    messages.success(request, _("The delivery was created.") if created
                     else _("The delivery was saved."))
    return redirect("web:delivery", delivery.pk)


def _form_page(request: HttpRequest, form: DeliveryForm, variants: BaseFormSet,
               delivery: Delivery | None) -> HttpResponse:
    loose: list[Any] = []
    fixes: list[str] = []
    if delivery is not None and not form.is_bound:
        found = draft_findings(delivery) + market_findings(delivery)
        fixes = fixes_for({finding.code for finding in found})
        loose = attach_findings(form, variants, found)
    elif getattr(form, "refused", False):
        # Valid, yet not saved: the core refused it. Its other problems show too.
        loose = attach_findings(form, variants, posted_findings(form, variants))
    invalid = form.errors or (variants.is_bound and not variants.is_valid())
    response = render(request, "web/delivery_form.html", {
        "form": form, "variants": variants, "delivery": delivery, "findings": loose,
        "market_fixes": fixes,
        "suggested_typology": missing_suggestions(delivery) if delivery else [],
        "editor": editor_config(request),
        "variant_languages": COMMON_LANGUAGES}, status=400 if invalid else 200)
    response["Content-Security-Policy"] = editor_policy()
    return response


def _valid(form: DeliveryForm, variants: BaseFormSet) -> bool:
    form_valid = form.is_valid()  # both checked: every error shows at once
    return (variants.is_valid() or not variants.is_bound) and form_valid


@requires("delivery.create")
def delivery_create(request: HttpRequest) -> HttpResponse:
    zone = timezone.get_current_timezone_name()  # the reader's, from the browser
    form = DeliveryForm(request.POST or None, initial={"time_zone": zone})
    variants = variant_formset(request.POST or None, None)
    if request.method == "POST" and _valid(form, variants):
        delivery = _save(request, form, variants, None)
        if delivery is not None:
            return _saved(request, delivery, created=True)
    return _form_page(request, form, variants, None)


@console
def delivery_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The form shows the delivery's content and takes its changes: both need the right
    to edit it, as the API's PATCH does (reading alone is the dashboard's)."""
    delivery = delivery_for(request, pk, "delivery.edit")
    form = DeliveryForm(request.POST or None, initial=delivery_initial(delivery))
    variants = variant_formset(request.POST or None, delivery)
    if request.method == "POST" and _valid(form, variants) and _save(
            request, form, variants, delivery):
        return _saved(request, delivery, created=False)
    return _form_page(request, form, variants, delivery)


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

