"""Users, roles, tokens, permission checks and the audit log."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from envoi.accounts.models import ApiToken, AuditEntry, GroupRole, UserRole
from envoi.accounts.roles import ACTION_ROLES, Role, denial_message

Actor = User | AbstractBaseUser | AnonymousUser | None


class PermissionDenied(Exception):
    """Raised by :func:`require`; faces turn it into HTTP 403 or a banner."""

    def __init__(self, action: str):
        self.action = action
        super().__init__(denial_message(action))


def roles_of(user: Actor) -> set[Role]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
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


def create_token(user: User, name: str = "") -> str:
    token = "envoi_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=ApiToken.digest_of(token))
    return token


def user_for_token(token: str) -> User | None:
    found = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(token), user__is_active=True)
        .first()
    )
    if found is None:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user


def add_user(actor: Actor, username: str, roles: Iterable[str], password: str) -> User:
    """An administrator creates a console user with a password and roles."""
    require(actor, "users.manage")
    roles = list(roles)
    user = create_user(username, roles, password)
    audit(actor, "users.create", username=username, roles=sorted(roles))
    return user


def change_roles(actor: Actor, user: User, roles: Iterable[str]) -> None:
    """An administrator replaces a user's own roles (group roles stay as they are)."""
    require(actor, "users.manage")
    wanted = sorted(set(roles))
    set_roles(user, wanted)
    audit(actor, "users.roles", username=user.get_username(), roles=wanted)
