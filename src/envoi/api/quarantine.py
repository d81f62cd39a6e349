"""Quarantine endpoints (SPEC §8): list, one address with its history, release."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from envoi.accounts.services import require
from envoi.api.router import NotFound
from envoi.api.schemas import Page, Strict
from envoi.bounces import quarantine
from envoi.bounces.models import Quarantine, QuarantineStatus

router = Router()
MAX_PAGE = 10**6


class QuarantineOut(Schema):
    channel: str
    address: str
    status: str
    reason: str
    error_count: int
    first_error_at: datetime | None
    last_error_at: datetime | None
    status_changed_at: datetime | None
    updated_at: datetime


class QuarantineEventOut(Schema):
    at: datetime
    from_status: str
    to_status: str
    reason: str
    source: str
    error_count: int
    row_id: int | None
    actor: str
    note: str


class QuarantineDetailOut(QuarantineOut):
    history: list[QuarantineEventOut]


class QuarantinePage(Page):
    results: list[QuarantineOut]


class QuarantineFilter(Schema):
    status: QuarantineStatus | None = None
    reason: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9_]*$")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(100, ge=1, le=1000)


class ReleaseIn(Strict):
    note: str = Field("", max_length=500)


_FIELDS = ("channel", "address", "status", "reason", "error_count", "first_error_at",
           "last_error_at", "status_changed_at", "updated_at")


@router.get("", response=QuarantinePage)
def list_quarantine(request: HttpRequest, filters: Query[QuarantineFilter]):
    """Addresses with a standing other than valid, newest change first; filter by status
    and reason."""
    require(request.user, "quarantine.view")
    rows = Quarantine.objects.exclude(status=QuarantineStatus.VALID)
    if filters.status:
        rows = Quarantine.objects.filter(status=filters.status)
    if filters.reason:
        rows = rows.filter(reason=filters.reason)
    start = (filters.page - 1) * filters.page_size
    ordered = rows.order_by("-updated_at", "-id")
    return {"count": rows.count(), "page": filters.page, "page_size": filters.page_size,
            "results": list(ordered.values(*_FIELDS)[start:start + filters.page_size])}


def _record(address: str) -> Quarantine:
    key = address.strip().lower()
    found = None
    if 0 < len(key) <= 320 and "\x00" not in key:  # anything else names no address
        found = Quarantine.objects.filter(channel=quarantine.channel_of(key),
                                          address=key).first()
    if found is None:
        raise NotFound(f"Address {address!r} has no quarantine record.")
    return found


def _detail(record: Quarantine) -> dict:
    out = {name: getattr(record, name) for name in _FIELDS}
    out["history"] = quarantine.history(record.address)
    return out


@router.get("/{address}", response=QuarantineDetailOut)
def read_address(request: HttpRequest, address: str):
    """One address's standing and its history, newest first."""
    require(request.user, "quarantine.view")
    return _detail(_record(address))


@router.post("/{address}/release", response=QuarantineDetailOut)
def release_address(request: HttpRequest, address: str, payload: ReleaseIn | None = None):
    """Release an address by hand (administration role): it is valid again."""
    require(request.user, "quarantine.manage")
    record = _record(address)
    try:
        released = quarantine.release(request.user, record.address,
                                      payload.note if payload else "")
    except quarantine.NotQuarantined as error:
        raise NotFound(str(error)) from error
    return _detail(released)
