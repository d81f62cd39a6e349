"""Public pages reached from messages. They never answer 500 and never redirect
anywhere a token did not name: a bad token gets a plain page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from envoi.tracking import services, tokens


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "tracking/invalid_link.html", status=400)


# One-click unsubscribe (RFC 8058) is a POST from the mailbox provider without any
# session or CSRF token: the signed token is the authentication.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = services.unsubscribe_target(token)
    except tokens.BadToken:
        return _invalid(request)
    if request.method == "GET":
        return render(request, "tracking/unsubscribe_confirm.html",
                      {"address": target.address})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    services.unsubscribe(target, one_click=one_click)
    return render(request, "tracking/unsubscribed.html", {"address": target.address})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def proof_unsubscribe(request: HttpRequest) -> HttpResponse:
    return render(request, "tracking/proof_unsubscribe.html")
