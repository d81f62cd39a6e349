"""Sending domains: their DKIM keys (public parts only) and DNS checks."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from envoi.api.router import BadRequest, NotFound
from envoi.api.schemas import Strict
from envoi.sending.email import keys, services

router = Router()


class DkimKeyOut(Schema):
    selector: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None
    record: str = Field(description="The DNS TXT record to publish, as a zone-file line.")


class CheckOut(Schema):
    kind: str = Field(description="spf, dkim, dmarc or return_path")
    name: str = Field(description="The DNS name looked at.")
    ok: bool
    problem: str = Field(description="A stable code of the problem; empty when ok.")
    message: str = Field(description="The problem, in words; empty when ok.")
    found: list[str]
    publish: list[str] = Field(description="Zone-file lines that make the check pass.")
    note: str


class SendingDomainOut(Schema):
    domain: str
    created_at: datetime
    checked_at: datetime | None
    ok: bool | None = Field(description="Every check green; null before the first check.")
    keys: list[DkimKeyOut]
    checks: list[CheckOut]


class DomainIn(Strict):
    domain: str = Field(max_length=253)


class SelectorIn(Strict):
    selector: str = Field(max_length=63)


def _core(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except keys.DkimError as error:
        raise BadRequest(str(error)) from error
    except services.UnknownDomain as error:
        raise NotFound(str(error)) from error


@router.get("", response=list[SendingDomainOut])
def list_sending_domains(request: HttpRequest):
    """Every sending domain with its keys and its last checks."""
    return services.list_domains(request.user)


@router.post("", response={201: SendingDomainOut})
def add_sending_domain(request: HttpRequest, payload: DomainIn):
    """Add a From domain; ``POST …/check`` then asks the DNS about it."""
    domain = _core(keys.add_domain, request.user, payload.domain)
    return Status(201, services.show(request.user, domain.domain))


@router.get("/{domain}", response=SendingDomainOut)
def get_sending_domain(request: HttpRequest, domain: str):
    """The domain as last checked."""
    return _core(services.show, request.user, domain)


@router.post("/{domain}/check", response=SendingDomainOut)
def check_sending_domain(request: HttpRequest, domain: str):
    """Ask the DNS now: SPF, DKIM selectors, DMARC and alignment, return-path MX."""
    return _core(services.show, request.user, domain, check=True)


@router.post("/{domain}/dkim", response={201: SendingDomainOut})
def create_dkim_keys(request: HttpRequest, domain: str, payload: SelectorIn):
    """Create an RSA-2048 and an Ed25519 key under SELECTOR-rsa and SELECTOR-ed25519.
    The answer holds the records to publish; private keys are never returned."""
    _core(keys.create_keys, request.user, domain, payload.selector)
    return Status(201, _core(services.show, request.user, domain))


@router.post("/{domain}/dkim/{selector}/retire", response=SendingDomainOut)
def retire_dkim_selector(request: HttpRequest, domain: str, selector: str):
    """Stop signing with the keys under this selector."""
    _core(keys.retire_selector, request.user, domain, selector)
    return _core(services.show, request.user, domain)
