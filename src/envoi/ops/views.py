"""``/healthz``, ``/readyz`` and ``/metrics`` of ``envoi serve``: no session, no login.

A not-ready answer is a 503 that is expected while the database restarts or a
migration runs: it is marked as logged already, so Django does not log it as an error.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from envoi.ops import health
from envoi.ops.access import may_read_metrics


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    response._has_been_logged = True  # type: ignore[attr-defined]  # see module docstring
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return _plain("ok")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    state = health.readiness()
    return _plain(state.detail, 200 if state.ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    from envoi.ops import metrics as envoi_metrics

    if not may_read_metrics(request.META.get("REMOTE_ADDR"),
                            request.headers.get("Authorization")):
        response = _plain("metrics: a loopback or ENVOI_METRICS_ALLOW address, or the "
                          "bearer token of an administrator, is needed", 401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(envoi_metrics.exposition(), content_type=envoi_metrics.CONTENT_TYPE)
