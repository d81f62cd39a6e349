"""The console's workers page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from envoi.ops import services
from envoi.web.views.common import requires


@requires("workers.view")
def workers(request: HttpRequest) -> HttpResponse:
    found = services.list_workers(request.user)
    return render(request, "ops/workers.html", {
        "workers": found, "lease_seconds": settings.ENVOI_LEASE_SECONDS,
        "alive": sum(1 for w in found if not w.lost),
        "lost": sum(1 for w in found if w.lost)})
