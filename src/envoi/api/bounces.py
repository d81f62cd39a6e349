"""Received bounces (kept raw, listed by outcome) and the qualification rules."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from envoi.accounts.services import require
from envoi.api.router import BadRequest, get_or_404
from envoi.api.schemas import MAX_ID, Page, Strict
from envoi.bounces import services
from envoi.bounces.models import (
    InboundKind,
    InboundMessage,
    InboundOutcome,
    InboundSms,
    QualificationRule,
)
from envoi.bounces.qualification import builtin_rules

router = Router()
rules_router = Router()


class InboundOut(Schema):
    id: int
    received_at: datetime
    source: str
    mail_from: str
    rcpt_to: list[str]
    size: int
    subject: str
    outcome: str
    kind: str
    address: str
    failure_type: str
    failure_reason: str
    status_code: str
    diagnostic: str
    row_id: int | None
    delivery_id: int | None
    row_changed: bool
    error: str


class InboundPage(Page):
    results: list[InboundOut]


class InboundFilter(Schema):
    outcome: InboundOutcome | None = None
    kind: InboundKind | None = None
    delivery_id: int | None = Field(None, ge=1, le=MAX_ID)
    page: int = Field(1, ge=1, le=10**6)
    page_size: int = Field(100, ge=1, le=1000)


_INBOUND_FIELDS = [name for name in InboundOut.model_fields]


@router.get("", response=InboundPage)
def list_inbound(request: HttpRequest, filters: Query[InboundFilter]):
    """Mail received on the bounce domain, newest first: matched to a sending-log row,
    unmatched, or unparseable (every message is kept)."""
    require(request.user, "bounces.view")
    rows = InboundMessage.objects.all()
    for name in ("outcome", "kind", "delivery_id"):
        value = getattr(filters, name)
        if value:
            rows = rows.filter(**{name: value})
    start = (filters.page - 1) * filters.page_size
    page = rows.order_by("-id").values(*_INBOUND_FIELDS)[start:start + filters.page_size]
    return {"count": rows.count(), "page": filters.page, "page_size": filters.page_size,
            "results": list(page)}


@router.get("/{message_id}", response=InboundOut)
def read_inbound(request: HttpRequest, message_id: int):
    require(request.user, "bounces.view")
    return get_or_404(InboundMessage, message_id, "Received message")


@router.get("/{message_id}/raw", response={200: None})
def download_inbound(request: HttpRequest, message_id: int):
    """The message exactly as received, as an .eml file."""
    require(request.user, "bounces.view")
    message = get_or_404(InboundMessage, message_id, "Received message")
    response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="bounce-{message_id}.eml"'
    return response


# -- qualification rules ----------------------------------------------------------------


class RuleIn(Strict):
    failure_type: str = Field(min_length=1, max_length=8)
    reason: str = Field(min_length=1, max_length=64)
    smtp_code: int = Field(0, ge=0, le=599)
    enhanced: str = Field("", max_length=16)
    pattern: str = Field("", max_length=500)
    priority: int = Field(100, ge=0, le=10**6)
    note: str = Field("", max_length=200)


class RuleOut(Schema):
    id: int
    failure_type: str
    reason: str
    smtp_code: int
    enhanced: str
    pattern: str
    priority: int
    note: str
    created_at: datetime
    created_by: str


class BuiltinRuleOut(Schema):
    position: int
    smtp_code: int
    enhanced: str
    pattern: str
    failure_type: str
    reason: str


class RulesOut(Schema):
    rules: list[RuleOut]
    builtin: list[BuiltinRuleOut]


@rules_router.get("", response=RulesOut)
def list_rules(request: HttpRequest):
    """The administrators' rules, in the order they are tried (before the built-in
    table), and the built-in table itself."""
    require(request.user, "quarantine.view")
    return {"rules": list(QualificationRule.objects.order_by("priority", "id")),
            "builtin": builtin_rules()}


@rules_router.post("", response={201: RuleOut})
def add_rule(request: HttpRequest, payload: RuleIn):
    """Add a rule (administration role); every change is audited."""
    try:
        return Status(201, services.add_rule(request.user, **payload.dict()))
    except services.RuleError as error:
        raise BadRequest(str(error)) from error


@rules_router.delete("/{rule_id}", response={204: None})
def delete_rule(request: HttpRequest, rule_id: int):
    require(request.user, "qualification.manage")
    services.delete_rule(request.user, get_or_404(QualificationRule, rule_id, "Rule"))
    return Status(204, None)


# SMS: delivery receipts and replies received over SMPP ---------------------------------

sms_router = Router()


class InboundSmsOut(Schema):
    id: int
    received_at: datetime
    kind: str
    smsc: str
    source: str
    destination: str
    text: str
    message_id: str
    stat: str
    outcome: str
    row_id: int | None
    profile_id: int | None
    stop: bool


class InboundSmsPage(Page):
    results: list[InboundSmsOut]


class InboundSmsFilter(Schema):
    outcome: InboundOutcome | None = None
    kind: str | None = Field(None, pattern="^(receipt|reply)$")
    page: int = Field(1, ge=1, le=10**6)
    page_size: int = Field(100, ge=1, le=1000)


@sms_router.get("", response=InboundSmsPage)
def list_inbound_sms(request: HttpRequest, filters: Query[InboundSmsFilter]):
    """Receipts and replies received over SMPP, newest first: replies (matched to a
    profile by number, or not), and the receipts that matched no part sent (receipts
    that matched are recorded on their part and row, not kept here)."""
    require(request.user, "bounces.view")
    rows = InboundSms.objects.all()
    for name in ("outcome", "kind"):
        value = getattr(filters, name)
        if value:
            rows = rows.filter(**{name: value})
    start = (filters.page - 1) * filters.page_size
    fields = list(InboundSmsOut.model_fields)
    page = rows.order_by("-id").values(*fields)[start:start + filters.page_size]
    return {"count": rows.count(), "page": filters.page, "page_size": filters.page_size,
            "results": list(page)}
