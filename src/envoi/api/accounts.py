"""Account endpoints: API tokens (``/tokens``) and user management (``/users``).

Anyone may list, create and revoke their own tokens; another user's need
``token.manage``. Users are deactivated, reactivated and given a new password with
``users.manage``.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from envoi import clock
from envoi.accounts import tokens, users
from envoi.accounts.models import ApiToken
from envoi.accounts.services import (
    MAX_TOKEN_DAYS,
    AccountError,
    require,
    roles_of,
)
from envoi.api.router import BadRequest, get_or_404
from envoi.api.schemas import MAX_ID, Strict

token_router = Router()
user_router = Router()


class TokenOut(Schema):
    id: int
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: str = Field(description="active, expired or revoked")


class NewTokenOut(TokenOut):
    token: str = Field(description="The bearer token; shown this once, never again.")


class TokenIn(Strict):
    name: str = Field("", max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=MAX_TOKEN_DAYS,
                                        description="None: the token never expires.")
    user: str | None = Field(None, max_length=150,
                             description="Whose token (default: yours; another user's "
                                         "needs token.manage).")


class TokenFilter(Schema):
    user: str | None = Field(None, max_length=150,
                             description="Whose tokens (default: yours).")
    all: bool = Field(False, description="Every user's tokens (needs token.manage).")


class UserOut(Schema):
    id: int
    username: str
    is_active: bool
    roles: list[str]
    last_login: datetime | None


class PasswordIn(Strict):
    password: str = Field(min_length=1, max_length=4096)


def _token_out(token: ApiToken, now: datetime) -> dict:
    return {"id": token.pk, "user": token.user.get_username(), "name": token.name,
            "created_at": token.created_at, "expires_at": token.expires_at,
            "last_used_at": token.last_used_at, "revoked_at": token.revoked_at,
            "state": token.state_at(now)}


def _owner(request: HttpRequest, username: str | None) -> User:
    """The user named, or the caller. Another user's name is looked up only for a caller
    who may manage tokens, so the answer never tells who exists."""
    if username is None or username == request.user.get_username():
        return request.user  # type: ignore[return-value]
    require(request.user, "token.manage")
    found = User.objects.filter(username=username).first() if "\x00" not in username else None
    if found is None:
        raise BadRequest(f"user: no user named {username!r}.")
    return found


@token_router.get("", response=list[TokenOut])
def list_tokens(request: HttpRequest, filters: Query[TokenFilter]):
    """Tokens, newest first: yours, one user's, or (``all``) everyone's."""
    owner = None if filters.all else _owner(request, filters.user)
    now = clock.now()
    return [_token_out(t, now) for t in tokens.list_tokens(request.user, owner)]


@token_router.post("", response={201: NewTokenOut})
def create_token(request: HttpRequest, body: TokenIn):
    owner = _owner(request, body.user)
    try:
        row, clear = tokens.create(request.user, owner, body.name, body.expires_in_days)
    except AccountError as error:
        raise BadRequest(str(error)) from error
    return Status(201, {**_token_out(row, clock.now()), "token": clear})


@token_router.delete("/{token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: int):
    """Revoke a token: it answers 401 from now on."""
    found = ApiToken.objects.filter(pk=token_id).first() if 0 < token_id <= MAX_ID else None
    if found is None or found.user_id != request.user.pk:
        # Someone else's token, or none: only a token manager learns which.
        require(request.user, "token.manage")
    token = get_or_404(ApiToken, token_id, "Token")
    tokens.revoke(request.user, token)
    return Status(204, None)


def _user_out(user: User) -> dict:
    return {"id": user.pk, "username": user.username, "is_active": user.is_active,
            "roles": sorted(roles_of(user)) if user.is_active else [],
            "last_login": user.last_login}


def _managed_user(request: HttpRequest, user_id: int) -> User:
    require(request.user, "users.manage")
    return get_or_404(User, user_id, "User")


@user_router.get("", response=list[UserOut])
def list_users(request: HttpRequest):
    require(request.user, "users.manage")
    return [_user_out(u) for u in User.objects.order_by("username")]


@user_router.post("/{user_id}/deactivate", response=UserOut)
def deactivate_user(request: HttpRequest, user_id: int):
    """Stop a user at once: its sessions end and its tokens answer 401."""
    user = _managed_user(request, user_id)
    try:
        users.deactivate(request.user, user)
    except AccountError as error:
        raise BadRequest(str(error)) from error
    return _user_out(user)


@user_router.post("/{user_id}/reactivate", response=UserOut)
def reactivate_user(request: HttpRequest, user_id: int):
    user = _managed_user(request, user_id)
    users.reactivate(request.user, user)
    return _user_out(user)


@user_router.post("/{user_id}/password", response={204: None})
def set_user_password(request: HttpRequest, user_id: int, body: PasswordIn):
    """Give a user a new password (it must pass the password rules); its sessions end."""
    user = _managed_user(request, user_id)
    try:
        users.set_password(request.user, user, body.password)
    except ValidationError as error:
        raise BadRequest("password: " + " ".join(error.messages)) from error
    return Status(204, None)



class ResetLinkOut(Schema):
    url: str = Field(description="Works once, for PASSWORD_RESET_TIMEOUT at most.")


@user_router.post("/{user_id}/reset-link", response=ResetLinkOut)
def make_reset_link(request: HttpRequest, user_id: int):
    """A one-time link with which the user chooses a new password, to pass on."""
    user = _managed_user(request, user_id)
    try:
        return {"url": users.reset_link(request.user, user)}
    except AccountError as error:
        raise BadRequest(str(error)) from error
