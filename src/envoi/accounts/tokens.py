"""API tokens: issue, list and revoke. Anyone signed in may do so for their own tokens;
another user's need ``token.manage``."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from envoi import clock
from envoi.accounts.models import ApiToken
from envoi.accounts.services import OPERATOR, Actor, audit, issue_token
from envoi.accounts.users import authorize


def _authorize_for(actor: Actor, owner_id: int | None) -> None:
    own = (actor is not None and actor is not OPERATOR and owner_id is not None
           and actor.pk == owner_id and getattr(actor, "is_active", False))
    if not own:
        authorize(actor, "token.manage")


def list_tokens(actor: Actor, owner: User | None = None) -> QuerySet[ApiToken]:
    """The tokens of ``owner`` (None: of every user), newest first."""
    _authorize_for(actor, owner.pk if owner is not None else None)
    found = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return found.filter(user=owner) if owner is not None else found


def create(actor: Actor, owner: User, name: str = "",
           expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    _authorize_for(actor, owner.pk)
    row, clear = issue_token(owner, name, expires_in_days)
    audit(actor, "token.create", token_id=row.pk, owner=owner.get_username(), name=name,
          expires_at=row.expires_at.isoformat() if row.expires_at else None)
    return row, clear


def revoke(actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` (once: revoking it again changes nothing)."""
    _authorize_for(actor, token.user_id)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    audit(actor, "token.revoke", token_id=token.pk, owner=token.user.get_username(),
          name=token.name)
    return token
