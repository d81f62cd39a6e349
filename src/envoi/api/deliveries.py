"""Delivery endpoints: thin calls into :mod:`envoi.deliveries.services`."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from envoi.accounts.services import Actor, require
from envoi.api.router import BadRequest, NotFound, get_or_404
from envoi.api.schemas import (
    DeliveryIn,
    DeliveryKpisOut,
    DeliveryOut,
    DeliveryPage,
    DeliveryPatch,
    ExclusionLogPage,
    ExecutionPage,
    ProofIn,
    ProofOut,
    RejectIn,
    SendingLogPage,
    TrackingLogPage,
)
from envoi.audiences.models import Audience
from envoi.deliveries import recurring, services
from envoi.deliveries.models import Delivery
from envoi.preparation.models import ExclusionLog
from envoi.reporting import services as reporting
from envoi.reporting.counts import delivery_counts
from envoi.sending.models import SendingLog
from envoi.sending.proofs import ProofError
from envoi.tracking.models import EventKind, TrackingEvent

router = Router()


def get_delivery(delivery_id: int) -> Delivery:
    return get_or_404(Delivery, delivery_id, "Delivery")


def permitted_delivery(request: HttpRequest, delivery_id: int, action: str) -> Delivery:
    """The delivery, once the user may do ``action``: the permission comes before the
    lookup, so that a refused user cannot tell which ids exist (403, never 404)."""
    services.require_before_lookup(request.user, action, delivery_id)
    return get_delivery(delivery_id)


def get_audience(audience_id: int | None) -> Audience | None:
    if audience_id is None:
        return None
    try:
        return get_or_404(Audience, audience_id, "audience_id: audience")
    except NotFound as error:
        raise BadRequest(str(error)) from error


def out(delivery: Delivery, user: Actor) -> dict:
    """The delivery as the API shows it to ``user``: ``actions`` lists only what that
    user may do now (``services.available_actions``), never internal moves."""
    delivery.refresh_from_db()
    data = {field: getattr(delivery, field) for field in DeliveryOut.model_fields
            if field != "recurrence" and hasattr(delivery, field)}
    data["contact_date_local"] = recurring.local_contact_date(delivery)
    data["recurrence"] = recurring.describe(delivery)
    data["counts"] = delivery_counts(delivery)
    data["preparation"] = list(delivery.preparation_messages.order_by("id").values())
    data["actions"] = services.available_actions(user, delivery)
    data.update(authoring_out(delivery))
    return data


def authoring_out(delivery: Delivery) -> dict:
    """The variants, and the content's findings as they stand (envoi.content)."""
    from envoi.content.authoring import variant_dicts
    from envoi.content.checks import content_findings

    return {"variants": variant_dicts(delivery),
            "findings": [finding.__dict__ for finding in content_findings(delivery)]}


# Fields a PATCH may set to null: it removes the audience, contact date or schedule.
NULLABLE = frozenset({"audience_id", "contact_date", "recurrence"})


def _fields(payload: Schema, *, partial: bool) -> dict:
    fields = payload.model_dump(exclude_unset=partial)
    nulls = sorted(k for k, v in fields.items() if v is None and k not in NULLABLE)
    if nulls:
        raise BadRequest(f"{', '.join(nulls)}: may not be null.")
    if "audience_id" in fields:
        fields["audience"] = get_audience(fields.pop("audience_id"))
    return fields


def _run(call, *args):
    try:
        return call(*args)
    except (services.DeliveryError, ProofError) as error:
        raise BadRequest(str(error)) from error


# Paging bounds keep every offset within what either database can represent.
MAX_PAGE = 1_000_000


class PageFilter(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(100, ge=1, le=1000)


class DeliveryFilter(PageFilter):
    page_size: int = Field(50, ge=1, le=1000)
    status: str | None = None
    search: str | None = None
    archived: bool = False


@router.get("", response=DeliveryPage)
def list_deliveries(request: HttpRequest, filters: Query[DeliveryFilter]):
    """Newest first; ``search`` matches the label, ``status`` the lifecycle status.
    Archived deliveries are listed only with ``archived=true`` (and then only they)."""
    require(request.user, "delivery.view")
    deliveries = Delivery.objects.filter(archived_at__isnull=not filters.archived).order_by("-id")
    if filters.status:
        deliveries = deliveries.filter(status=filters.status)
    if filters.search:
        deliveries = deliveries.filter(label__icontains=filters.search)
    return _page(deliveries, filters, order=False)


@router.post("", response={201: DeliveryOut})
def create_delivery(request: HttpRequest, payload: DeliveryIn):
    require(request.user, "delivery.create")  # before the audience is looked up
    fields = _fields(payload, partial=False)
    return Status(201, out(_run(lambda: services.create(request.user, **fields)), request.user))


@router.get("/{delivery_id}", response=DeliveryOut)
def read_delivery(request: HttpRequest, delivery_id: int):
    return out(permitted_delivery(request, delivery_id, "delivery.view"), request.user)


@router.patch("/{delivery_id}", response=DeliveryOut)
def edit_delivery(request: HttpRequest, delivery_id: int, payload: DeliveryPatch):
    delivery = permitted_delivery(request, delivery_id, "delivery.edit")
    return out(_run(lambda: services.update(request.user, delivery,
                                            **_fields(payload, partial=True))), request.user)


@router.delete("/{delivery_id}", response={204: None})
def delete_delivery(request: HttpRequest, delivery_id: int):
    services.delete(request.user, permitted_delivery(request, delivery_id, "delivery.delete"))
    return Status(204, None)


def _action(name: str, call, permission: str):
    def endpoint(request: HttpRequest, delivery_id: int):
        delivery = permitted_delivery(request, delivery_id, permission)
        return out(_run(call, request.user, delivery), request.user)

    endpoint.__name__ = f"{name.replace('-', '_')}_delivery"
    router.post(f"/{{delivery_id}}/{name}", response=DeliveryOut,
                summary=f"{name.capitalize()} a delivery")(endpoint)


for _name, _call, _permission in [
        ("prepare", services.prepare, "delivery.prepare"),
        ("approve", services.approve, "delivery.approve"),
        ("confirm", services.confirm, "delivery.confirm"),
        ("pause", services.pause, "delivery.pause"),
        ("resume", services.resume, "delivery.resume"),
        ("stop", services.stop, "delivery.stop"),
        ("activate", services.activate, "delivery.activate"),
        ("withdraw-confirmation", services.withdraw_confirmation, "delivery.confirm"),
        ("cancel-schedule", services.cancel_schedule, "delivery.confirm"),
        ("archive", services.archive, "delivery.delete"),
        ("unarchive", services.unarchive, "delivery.delete")]:
    _action(_name, _call, _permission)


class RescheduleIn(Schema):
    contact_date: datetime


@router.post("/{delivery_id}/reschedule", response=DeliveryOut)
def reschedule_delivery(request: HttpRequest, delivery_id: int, payload: RescheduleIn):
    """Move a scheduled send (Start pending) to a later ``contact_date`` without preparing
    it again; a date without an offset is in the delivery's time zone."""
    delivery = permitted_delivery(request, delivery_id, "delivery.confirm")
    return out(_run(services.reschedule, request.user, delivery, payload.contact_date),
               request.user)


@router.get("/{delivery_id}/executions", response=ExecutionPage)
def list_executions(request: HttpRequest, delivery_id: int, filters: Query[PageFilter]):
    """The executions a recurring delivery spawned, newest first, with their counts."""
    parent = permitted_delivery(request, delivery_id, "delivery.view")
    page = _page(recurring.executions(parent), filters, order=False)
    executions = Delivery.objects.in_bulk([row["id"] for row in page["results"]])
    for row in page["results"]:
        row["counts"] = delivery_counts(executions[row["id"]])
    return page


@router.post("/{delivery_id}/reject", response=DeliveryOut)
def reject_delivery(request: HttpRequest, delivery_id: int, payload: RejectIn | None = None):
    """Back to editing; ``reason`` (required) is kept, audited and shown to the preparer."""
    reason = payload.reason if payload else ""
    delivery = permitted_delivery(request, delivery_id, "delivery.reject")
    return out(_run(services.reject, request.user, delivery, reason), request.user)


@router.post("/{delivery_id}/proof", response=ProofOut)
def proof_delivery(request: HttpRequest, delivery_id: int, payload: ProofIn | None = None):
    """To the test profiles; or to typed ``addresses``, in the ``language`` variant,
    rendered as profile ``profile_id`` (each optional)."""
    given = payload or ProofIn()
    delivery = permitted_delivery(request, delivery_id, "delivery.proof")
    return _run(services.send_proof_to, request.user, delivery,
                given.addresses or None, given.language, given.profile_id,
                given.test_profile_ids or None)


class LogFilter(PageFilter):
    status: str | None = None
    reason: str | None = None


class TrackingLogFilter(PageFilter):
    kind: EventKind | None = None


def _page(queryset: QuerySet, filters: PageFilter, order: bool = True) -> dict:
    start = (filters.page - 1) * filters.page_size
    rows = queryset.order_by("id") if order else queryset
    return {"count": queryset.count(), "page": filters.page, "page_size": filters.page_size,
            "results": list(rows[start:start + filters.page_size].values())}


def _log(request: HttpRequest, delivery_id: int, rows: QuerySet, filters: PageFilter,
         **filter_columns: str) -> dict:
    """One page of a delivery's log, filtered on the columns the query names."""
    permitted_delivery(request, delivery_id, "logs.view")
    rows = rows.filter(delivery_id=delivery_id)
    for parameter, column in filter_columns.items():
        value = getattr(filters, parameter)
        if value:
            rows = rows.filter(**{column: value})
    return _page(rows, filters)


@router.get("/{delivery_id}/logs/sending", response=SendingLogPage)
def sending_log(request: HttpRequest, delivery_id: int, filters: Query[LogFilter]):
    return _log(request, delivery_id, SendingLog.objects.all(), filters,
                status="status", reason="failure_reason")


@router.get("/{delivery_id}/logs/exclusions", response=ExclusionLogPage)
def exclusion_log(request: HttpRequest, delivery_id: int, filters: Query[LogFilter]):
    return _log(request, delivery_id, ExclusionLog.objects.all(), filters, reason="reason")


@router.get("/{delivery_id}/logs/tracking", response=TrackingLogPage)
def tracking_log(request: HttpRequest, delivery_id: int, filters: Query[TrackingLogFilter]):
    """The delivery's opens, clicks, mirror views and unsubscribes, oldest first."""
    return _log(request, delivery_id, TrackingEvent.objects.all(), filters, kind="kind")


@router.get("/{delivery_id}/kpis", response=DeliveryKpisOut)
def delivery_kpis(request: HttpRequest, delivery_id: int):
    """The KPIs as last computed (``computed_at``), with the live sending counts."""
    delivery = permitted_delivery(request, delivery_id, "delivery.view")
    return reporting.delivery_kpis(request.user, delivery)


@router.post("/{delivery_id}/compute-stats", response=DeliveryKpisOut)
def compute_stats(request: HttpRequest, delivery_id: int):
    """Recompute every KPI from the sending and tracking logs now, and return them."""
    delivery = permitted_delivery(request, delivery_id, "delivery.view")
    return reporting.compute_stats(request.user, delivery)
