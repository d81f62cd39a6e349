"""Users, roles, tokens, permission checks and the audit log."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from envoi import clock
from envoi.accounts.models import ApiToken, AuditEntry, GroupRole, UserRole
from envoi.accounts.roles import ACTION_ROLES, Role, denial_message


class CommandLine:
    """The operator at the ``envoi`` command. Whoever can run it holds the database's
    keys already, so no role is checked for it; what it does is audited under its name."""

    pk = None
    is_authenticated = True
    is_active = True

    def get_username(self) -> str:
        return "(command line)"


OPERATOR = CommandLine()

Actor = User | AbstractBaseUser | AnonymousUser | CommandLine | None


# A token lives at most ten years; longer is "never expires", said by giving no expiry.
MAX_TOKEN_DAYS = 3650
TOKEN_NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 100


class AccountError(ValueError):
    """An account action refused for its input; the message names the field."""


class PermissionDenied(Exception):
    """Raised by :func:`require`; faces turn it into HTTP 403 or a banner."""

    def __init__(self, action: str):
        self.action = action
        super().__init__(denial_message(action))


def roles_of(user: Actor) -> set[Role]:
    if (user is None or user.pk is None or not getattr(user, "is_authenticated", False)
            or not user.is_active):
        return set()
    direct = UserRole.objects.filter(user_id=user.pk).values_list("role", flat=True)
    grouped = GroupRole.objects.filter(group__user=user.pk).values_list("role", flat=True)
    return {Role(r) for r in [*direct, *grouped]}


def can(user: Actor, action: str) -> bool:
    return bool(roles_of(user) & ACTION_ROLES[action])


def permitted_actions(user: Actor) -> frozenset[str]:
    """Every action the user's roles allow, read once (a page that shows or hides a
    dozen buttons asks this instead of :func:`can` a dozen times)."""
    roles = roles_of(user)
    return frozenset(action for action, allowed in ACTION_ROLES.items() if roles & allowed)


def audit(user: Actor, action: str, *, delivery_id: int | None = None,
          allowed: bool = True, **detail: Any) -> None:
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    AuditEntry.objects.create(
        actor_id=user.pk if authenticated and user else None,
        actor_name=user.get_username() if authenticated and user else "",
        action=action,
        allowed=allowed,
        delivery_id=delivery_id,
        detail=detail,
    )


def require(user: Actor, action: str, *, delivery_id: int | None = None) -> None:
    """Refuse ``action`` unless one of the user's roles allows it; refusals are audited."""
    if not can(user, action):
        audit(user, action, delivery_id=delivery_id, allowed=False,
              reason=denial_message(action))
        raise PermissionDenied(action)


@transaction.atomic
def create_user(username: str, roles: Iterable[str], password: str | None = None,
                email: str = "") -> User:
    user = User.objects.create_user(username=username, email=email, password=password)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    set_roles(user, roles)
    return user


def set_roles(user: User, roles: Iterable[str]) -> None:
    wanted = {Role(r) for r in roles}
    UserRole.objects.filter(user=user).exclude(role__in=wanted).delete()
    UserRole.objects.bulk_create(
        [UserRole(user=user, role=r) for r in wanted], ignore_conflicts=True
    )


def create_token(user: User, name: str = "", expires_in_days: int | None = None) -> str:
    return issue_token(user, name, expires_in_days)[1]


def issue_token(user: User, name: str = "",
                expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token and its clear text (shown once; only its digest is kept)."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise AccountError(f"expires_in_days: give a number of days from 1 to "
                           f"{MAX_TOKEN_DAYS}.")
    if len(name) > TOKEN_NAME_LENGTH:
        raise AccountError(f"name: at most {TOKEN_NAME_LENGTH} characters.")
    if "\x00" in name:  # PostgreSQL cannot store it
        raise AccountError("name: must not contain a NUL character.")
    token = "envoi_" + secrets.token_urlsafe(32)
    expires_at = (clock.now() + timedelta(days=expires_in_days)
                  if expires_in_days is not None else None)
    row = ApiToken.objects.create(user=user, name=name, digest=ApiToken.digest_of(token),
                                  expires_at=expires_at)
    return row, token


def user_for_token(token: str) -> User | None:
    """The active user of an unrevoked, unexpired token, or None (the API's 401)."""
    found = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(token), user__is_active=True,
                revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now()))
        .first()
    )
    if found is None:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user


def validate_new_password(password: str, user: User | None = None) -> None:
    """Apply the password rules (``AUTH_PASSWORD_VALIDATORS``); every face that sets a
    password calls this. Raises Django's ``ValidationError`` with every rule broken."""
    password_validation.validate_password(password, user)


def add_user(actor: Actor, username: str, roles: Iterable[str], password: str) -> User:
    """An administrator creates a console user with a password and roles."""
    require(actor, "users.manage")
    roles = list(roles)
    validate_new_password(password, User(username=username))
    user = create_user(username, roles, password)
    audit(actor, "users.create", username=username, roles=sorted(roles))
    return user


def change_roles(actor: Actor, user: User, roles: Iterable[str]) -> None:
    """An administrator replaces a user's own roles (group roles stay as they are)."""
    require(actor, "users.manage")
    wanted = sorted(set(roles))
    set_roles(user, wanted)
    audit(actor, "users.roles", username=user.get_username(), roles=wanted)
