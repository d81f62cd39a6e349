"""Consent endpoints (envoi.consent): a profile's consent records, consent given or
withdrawn on the person's word, erasure, the export of everything held about one
person, and the reasons people gave when they unsubscribed from a delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from envoi.accounts.services import require
from envoi.api.router import BadRequest, get_or_404
from envoi.api.schemas import Strict
from envoi.audiences.models import Profile
from envoi.consent import erasure
from envoi.consent.models import Source
from envoi.consent.pages import client_ip
from envoi.consent.services import (
    ConsentError,
    Evidence,
    consents_of,
    give_consent,
    take_back_consent,
    unsubscribe_reasons,
)
from envoi.deliveries.models import Delivery

router = Router()
deliveries_router = Router()


class ConsentEventOut(Schema):
    move: str
    status: str
    source: str
    at: datetime
    ip: str | None
    user_agent: str
    wording: str
    language: str


class ConsentOut(Schema):
    channel: str
    purpose: str
    status: str
    source: str
    updated_at: datetime
    events: list[ConsentEventOut]


class ConsentIn(Strict):
    channel: Literal["email", "sms"]
    status: Literal["granted", "withdrawn"]
    purpose: Literal["marketing", "night"] = Field(
        "marketing", description="``night``: advertising between 21:00 and 08:00 in the "
                                 "person's time zone (Korean advertising), a consent of "
                                 "its own beside the channel's marketing consent.")
    wording: str = Field("", max_length=5000,
                         description="What the person was shown or told when they chose.")
    ip: str | None = Field(None, max_length=45,
                           description="Where they chose, when known (else this request's).")
    user_agent: str = Field("", max_length=500)
    language: str = Field("", max_length=16)


class ErasureOut(Schema):
    profile_id: int
    suppressed: list[str]
    messages: int


class ReasonsOut(Schema):
    delivery_id: int
    unsubscriptions: int
    reasons: dict[str, int]


@router.get("/{profile_id}/consents", response=list[ConsentOut])
def read_consents(request: HttpRequest, profile_id: int):
    """The profile's consent on each channel, with every move as proof."""
    require(request.user, "profile.view")
    return consents_of(get_or_404(Profile, profile_id, "Profile"))


@router.post("/{profile_id}/consents", response=list[ConsentOut])
def record_consent(request: HttpRequest, profile_id: int, payload: ConsentIn):
    """Record consent given (``granted``) or taken back (``withdrawn``), source ``api``."""
    require(request.user, "consent.record")
    profile = get_or_404(Profile, profile_id, "Profile")
    evidence = Evidence(Source.API, ip=payload.ip or client_ip(request),
                        user_agent=payload.user_agent, wording=payload.wording,
                        language=payload.language)
    move = give_consent if payload.status == "granted" else take_back_consent
    try:
        move(request.user, profile, payload.channel, evidence, payload.purpose)
    except ConsentError as error:
        raise BadRequest(str(error)) from error
    return consents_of(profile)


@router.post("/{profile_id}/erase", response=ErasureOut)
def erase_profile(request: HttpRequest, profile_id: int):
    """Erase the person: personal data removed, the address kept only as a keyed hash
    in the suppression list, past KPIs unchanged. 409 if already erased."""
    require(request.user, "consent.erase")
    profile = get_or_404(Profile, profile_id, "Profile")
    try:
        report = erasure.erase_profile(request.user, profile)
    except erasure.AlreadyErased as error:
        raise HttpError(409, str(error)) from error
    return {"profile_id": report.profile_id, "suppressed": report.suppressed,
            "messages": report.messages}


@router.get("/{profile_id}/export", response=dict[str, Any])
def export_profile(request: HttpRequest, profile_id: int):
    """Everything Envoi holds about the person, as one JSON document."""
    require(request.user, "consent.export")
    return erasure.export_profile(request.user, get_or_404(Profile, profile_id, "Profile"))


@deliveries_router.get("/{delivery_id}/unsubscribe-reasons", response=ReasonsOut)
def read_unsubscribe_reasons(request: HttpRequest, delivery_id: int):
    """How many unsubscribed from the delivery's messages, per reason given."""
    require(request.user, "logs.view")
    get_or_404(Delivery, delivery_id, "Delivery")
    reasons = unsubscribe_reasons([delivery_id])[delivery_id]
    return {"delivery_id": delivery_id, "unsubscriptions": sum(reasons.values()),
            "reasons": reasons}
