from __future__ import annotations

from django.db import IntegrityError
from django.http import HttpRequest
from ninja import Router, Status

from envoi.accounts.services import require
from envoi.api.router import BadRequest, get_or_404
from envoi.api.schemas import AudienceIn, AudienceOut
from envoi.audiences.filters import FilterError
from envoi.audiences.models import Audience
from envoi.audiences.services import count_audience, create_audience, delete_audience

router = Router()


def _out(audience: Audience) -> dict:
    return {"id": audience.pk, "name": audience.name, "kind": audience.kind,
            "filter": audience.filter, "count": count_audience(audience)}


@router.post("", response={201: AudienceOut})
def create(request: HttpRequest, payload: AudienceIn):
    """Save a filter (or an empty static list); the answer counts its profiles."""
    try:
        audience = create_audience(request.user, payload.name, payload.filter, payload.kind)
    except FilterError as error:
        raise BadRequest(f"filter: {error}") from error
    except IntegrityError as error:
        raise BadRequest(f"name: an audience named {payload.name!r} exists already.") from error
    return Status(201, _out(audience))


@router.get("/{audience_id}", response=AudienceOut)
def read(request: HttpRequest, audience_id: int):
    require(request.user, "delivery.view")
    return _out(get_or_404(Audience, audience_id, "Audience"))


@router.delete("/{audience_id}", response={204: None})
def delete(request: HttpRequest, audience_id: int):
    """Delete an audience no delivery targets; one in use answers 409 naming them."""
    require(request.user, "audience.edit")
    delete_audience(request.user, get_or_404(Audience, audience_id, "Audience"))
    return Status(204, None)
