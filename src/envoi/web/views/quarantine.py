"""Administration: the quarantine (SPEC §8) — addresses, their history, and their
release by hand, through the same core functions as the API."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.accounts.services import require
from envoi.bounces import quarantine
from envoi.bounces.models import Quarantine, QuarantineStatus
from envoi.web import queries
from envoi.web.labels import QUARANTINE_REASON_LABELS, QUARANTINE_STATUS_LABELS
from envoi.web.views.common import act, console, get_or_404, may, requires


@requires("quarantine.view")
def quarantine_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in QuarantineStatus.values else ""
    reason = request.GET.get("reason", "")[:64]
    search = request.GET.get("q", "").strip()[:320]
    page = queries.page_of(queries.quarantine_entries(status, reason, search),
                           queries.page_number(request.GET.get("page")))
    return render(request, "web/quarantine.html", {
        "page": page, "status": status, "reason": reason, "search": search,
        "statuses": list(QUARANTINE_STATUS_LABELS.items()),
        "reasons": list(QUARANTINE_REASON_LABELS.items()),
        "may_release": may(request, "quarantine.manage")})


@requires("quarantine.view")
def quarantine_address(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_or_404(Quarantine, pk)
    events = quarantine.history(record.address)
    deliveries = queries.deliveries_of_rows([event.row_id for event in events if event.row_id])
    return render(request, "web/quarantine_address.html", {
        "record": record,
        "history": [(event, deliveries.get(event.row_id or 0)) for event in events],
        "may_release": may(request, "quarantine.manage")})


@require_POST
@console
def quarantine_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Release the address (administrators): it is valid again. The core refuses, and
    audits, anyone else — before the lookup, so that no one learns which ids exist."""
    require(request.user, "quarantine.manage")
    record = get_or_404(Quarantine, pk)
    note = request.POST.get("note", "").strip()[:500]
    back = request.POST.get("back", "")
    if not (back.startswith(reverse("web:quarantine")) and back.isprintable()):
        back = reverse("web:quarantine_address", args=[record.pk])
    return act(request, lambda: quarantine.release(request.user, record.address, note),
               _("The address was released: it is valid again."), back)
