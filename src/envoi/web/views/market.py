"""One-click fixes for market-rule findings (envoi.preparation.rules.fixes)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.deliveries.services import DeliveryError
from envoi.preparation.rules.fixes import apply_fix
from envoi.web.errors import message_of
from envoi.web.views.common import BANNER_REFUSALS, console, delivery_for

FIXED = {
    "prefix": lambda: _("The \"(광고)\" prefix was inserted."),
    "footer": lambda: _("The standard footer was added."),
}


@require_POST
@console
def market_fix(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = delivery_for(request, pk, "delivery.edit")
    fix = request.POST.get("fix", "")
    try:
        apply_fix(request.user, delivery, fix)
    except (DeliveryError, *BANNER_REFUSALS) as error:
        messages.error(request, message_of(error))
    else:
        messages.success(request, FIXED[fix]())
    return redirect("web:delivery_edit", pk)
