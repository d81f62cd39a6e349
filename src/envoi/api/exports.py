"""CSV exports (the ``export`` role), streamed in bounded memory:

- ``GET /api/v1/exports/profiles[?audience=ID]``: profiles, of an audience or all;
- ``GET /api/v1/exports/kpis?deliveries=1,2,3``: one KPI row per delivery;
- ``GET /api/v1/deliveries/{id}/export/sending-log``, ``…/export/exclusion-log`` and
  ``…/export/tracking-log``: a delivery's logs.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from envoi.accounts.services import require
from envoi.api.router import BadRequest, NotFound, get_or_404
from envoi.audiences.models import Audience
from envoi.deliveries.models import Delivery
from envoi.reporting import exports

router = Router()
delivery_router = Router()
_CSV = {200: {"description": "CSV, streamed", "content": {"text/csv": {
    "schema": {"type": "string"}}}}}


@router.get("/profiles", include_in_schema=True, openapi_extra={"responses": _CSV})
def export_profiles(request: HttpRequest, audience: int | None = None):
    """Every profile, or those of one audience (a saved filter or a static list)."""
    require(request.user, "profile.export")  # before the lookup: no existence oracle
    chosen = None
    if audience is not None:
        try:
            chosen = get_or_404(Audience, audience, "audience: audience")
        except NotFound as error:  # a query parameter, not the resource: 400
            raise BadRequest(str(error)) from error
    return exports.streaming_response(request, exports.profiles(request.user, chosen))


@router.get("/kpis", openapi_extra={"responses": _CSV})
def export_kpis(request: HttpRequest, deliveries: str):
    """The KPIs of the deliveries named, comma-separated (at most 1,000)."""
    exports.require_log_export(request.user)
    try:
        ids = [int(part) for part in deliveries.split(",") if part.strip()]
    except ValueError:
        raise BadRequest("deliveries: give delivery ids separated by commas, as in 1,2,3"
                         ) from None
    if not ids or len(ids) > 1000 or not all(0 < pk < 2**63 for pk in ids):
        raise BadRequest("deliveries: give between 1 and 1,000 delivery ids")
    return exports.streaming_response(request, exports.delivery_kpis(request.user, ids))


@delivery_router.get("/{delivery_id}/export/{log}", openapi_extra={"responses": _CSV})
def export_delivery_log(request: HttpRequest, delivery_id: int, log: str):
    """A delivery's ``sending-log``, ``exclusion-log`` or ``tracking-log``."""
    exports.require_log_export(request.user, delivery_id)
    if log not in exports.LOGS:
        raise BadRequest(f"log: one of {', '.join(exports.LOGS)}")
    get_or_404(Delivery, delivery_id, "Delivery")
    return exports.streaming_response(
        request, exports.delivery_log(request.user, delivery_id, log))
