"""Uploaded images at their public URLs: no login (they are shown in mailboxes), cached
for a year as immutable (an image never changes under its id)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from envoi.content.images import storage_of
from envoi.content.models import Image

ONE_YEAR = 365 * 24 * 3600


@require_http_methods(["GET", "HEAD"])
def image(request: HttpRequest, image_id: str, extension: str) -> HttpResponse:
    found = Image.objects.filter(pk=image_id, extension=extension).first()
    data = storage_of(found).open(found.filename) if found is not None else None
    if found is None or data is None:
        raise Http404("no such image")
    response = HttpResponse(data, content_type=found.content_type)
    response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Length"] = str(len(data))
    return response
