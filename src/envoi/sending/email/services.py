"""Sending domains as the faces show them: one description, one permission each."""

from __future__ import annotations

from typing import Any

from envoi.accounts.services import Actor, require
from envoi.sending.email import domains, keys
from envoi.sending.email.models import SendingDomain


class UnknownDomain(LookupError):
    """No sending domain of that name; the message names it."""


def list_domains(actor: Actor) -> list[dict[str, Any]]:
    require(actor, "sending_domain.view")
    return [describe(domain) for domain in SendingDomain.objects.prefetch_related("keys")]


def find(actor: Actor, name: str) -> SendingDomain:
    require(actor, "sending_domain.view")
    domain = keys.normalize_domain(name)
    found = SendingDomain.objects.filter(domain=domain).first()
    if found is None:
        raise UnknownDomain(f"sending domain {domain} does not exist.")
    return found


def show(actor: Actor, name: str, *, check: bool = False) -> dict[str, Any]:
    """The domain, its keys and its checks: asked of the DNS now with ``check``, else
    as last checked."""
    domain = find(actor, name)
    if check:
        domains.run_checks(domain)
    return describe(domain)


def describe(domain: SendingDomain) -> dict[str, Any]:
    """Everything public about a domain; private keys are never part of it."""
    checks = domains.stored_checks(domain)
    return {
        "id": domain.pk,  # the console's links; the API names a domain by its name
        "domain": domain.domain,
        "created_at": domain.created_at,
        "checked_at": domain.checked_at,
        "ok": all(check.ok for check in checks) if checks else None,
        "keys": [{"selector": key.selector, "algorithm": key.algorithm,
                  "created_at": key.created_at, "retired_at": key.retired_at,
                  "record": keys.dkim_zone_line(key)} for key in domain.keys.all()],
        "checks": [{"kind": check.kind, "name": check.name, "ok": check.ok,
                    "problem": check.problem, "message": check.message,
                    "found": check.found, "publish": check.publish,
                    "note": check.note_text}
                   for check in checks],
    }
