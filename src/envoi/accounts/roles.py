"""Roles and the one table that says which role may do what.

Every permission check in Envoi goes through :data:`ACTION_ROLES`; there is no other
place where a role is compared to an action.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMINISTRATION = "administration"
    PREPARE_DELIVERIES = "prepare_deliveries"
    APPROVE_DELIVERIES = "approve_deliveries"
    START_DELIVERIES = "start_deliveries"
    WORKFLOW = "workflow"
    IMPORT = "import"
    EXPORT = "export"


_PREPARERS = frozenset({Role.PREPARE_DELIVERIES, Role.START_DELIVERIES})
_STARTERS = frozenset({Role.START_DELIVERIES})

# action -> roles any one of which allows it.  "Start deliveries" can do everything
# "Prepare deliveries" can (SPEC §9), so it appears in every preparer action.
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "delivery.view": frozenset(Role) - {Role.IMPORT},
    "delivery.create": _PREPARERS,
    "delivery.edit": _PREPARERS,
    "delivery.delete": _PREPARERS,
    "delivery.prepare": _PREPARERS,
    "delivery.proof": _PREPARERS,
    "delivery.approve": frozenset({Role.APPROVE_DELIVERIES}),
    "delivery.reject": frozenset({Role.APPROVE_DELIVERIES}),
    "delivery.confirm": _STARTERS,
    # Run a recurring schedule whose runs then wait for a confirmation (SPEC §9).
    "delivery.activate": _STARTERS | {Role.WORKFLOW},
    "delivery.pause": _STARTERS,
    "delivery.resume": _STARTERS,
    "delivery.stop": _STARTERS,
    "profile.view": frozenset(Role),
    "profile.import": frozenset({Role.IMPORT}),
    # Test profiles receive proofs: whoever sends proofs chooses who they are.
    "profile.mark_test": _PREPARERS | {Role.ADMINISTRATION},
    "profile.export": frozenset({Role.EXPORT}),
    "profile.edit": frozenset({Role.ADMINISTRATION, Role.IMPORT}),
    "audience.edit": _PREPARERS | {Role.ADMINISTRATION},
    "logs.view": frozenset(Role) - {Role.IMPORT},
    "logs.export": frozenset({Role.EXPORT}),
    "outbox.view": _PREPARERS | {Role.APPROVE_DELIVERIES, Role.ADMINISTRATION},
    "users.manage": frozenset({Role.ADMINISTRATION}),
    # Other users' API tokens; anyone signed in lists, creates and revokes their own.
    "token.manage": frozenset({Role.ADMINISTRATION}),
    "quarantine.manage": frozenset({Role.ADMINISTRATION}),
    "quarantine.view": frozenset(Role) - {Role.IMPORT},
    "qualification.manage": frozenset({Role.ADMINISTRATION}),
    "bounces.view": frozenset({Role.ADMINISTRATION}),
    # Content authoring (envoi.content): templates and images for emails.
    "template.view": frozenset(Role) - {Role.IMPORT},
    "template.edit": _PREPARERS,
    "image.upload": _PREPARERS,
    "workers.view": frozenset({Role.ADMINISTRATION}),
    "metrics.view": frozenset({Role.ADMINISTRATION}),
    # Consent and privacy requests (envoi.consent).
    "consent.record": frozenset({Role.ADMINISTRATION, Role.IMPORT}),
    "consent.erase": frozenset({Role.ADMINISTRATION}),
    "consent.export": frozenset({Role.ADMINISTRATION, Role.EXPORT}),
    # Sending domains: their DNS checks, and their DKIM keys (envoi.sending.email).
    "sending_domain.view": frozenset(Role) - {Role.IMPORT},
    "sending_domain.manage": frozenset({Role.ADMINISTRATION}),
    # The brand recipient pages wear (name, logo, colour, legal footer).
    "brand.manage": frozenset({Role.ADMINISTRATION}),
}

# Sending actions refused with the sentence of the seed page, naming the action.
SENDING_ACTIONS = {"delivery.confirm", "delivery.pause", "delivery.resume", "delivery.stop"}


# What each action's subject is called in a refusal.
_OBJECTS = {"delivery": "deliveries", "profile": "profiles", "audience": "audiences",
            "logs": "logs", "outbox": "the outbox", "users": "users", "token": "API tokens",
            "quarantine": "the quarantine", "qualification": "qualification rules",
            "bounces": "received bounces", "template": "templates", "image": "images",
            "workers": "workers", "metrics": "metrics",
            "consent": "consent", "sending_domain": "sending domains",
            "brand": "the brand of recipient pages"}


# Actions whose sentence the generic "<verb> <subject>" pattern would get wrong.
_SENTENCES = {
    "consent.erase": "Your permissions do not allow you to erase profiles.",
    "consent.export": "Your permissions do not allow you to export the data of profiles.",
}


def denial_message(action: str) -> str:
    """The sentence a refused user reads (SPEC §2; seed page "Confirming the send")."""
    if action in _SENTENCES:
        return _SENTENCES[action]
    subject, _, verb = action.partition(".")
    if action in SENDING_ACTIONS:
        return f"Your permissions do not allow you to {verb} a delivery."
    return (f"Your permissions do not allow you to {verb.replace('_', ' ')} "
            f"{_OBJECTS.get(subject, subject)}.")
