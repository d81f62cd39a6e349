"""Account management by an administrator: deactivate, reactivate, set a password.

A deactivated user's sessions are deleted and its tokens stop answering at once (the
token check reads ``is_active`` on every request), so nothing signed in before keeps
working; reactivating does not bring the old sessions back.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from envoi.accounts.services import (
    OPERATOR,
    AccountError,
    Actor,
    audit,
    require,
    validate_new_password,
)


def authorize(actor: Actor, action: str) -> None:
    """``require``, except for the command line's operator."""
    if actor is not OPERATOR:
        require(actor, action)


def deactivate(actor: Actor, user: User) -> None:
    authorize(actor, "users.manage")
    if actor is not None and actor.pk == user.pk:
        raise AccountError("You cannot deactivate your own account.")
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    ended = end_sessions(user)
    audit(actor, "users.deactivate", username=user.get_username(), sessions_ended=ended)


def reactivate(actor: Actor, user: User) -> None:
    authorize(actor, "users.manage")
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    audit(actor, "users.reactivate", username=user.get_username())


def set_password(actor: Actor, user: User, password: str) -> None:
    """Give ``user`` a new password (an administrator's reset). Its sessions end: whoever
    signed in with the old password must sign in again."""
    authorize(actor, "users.manage")
    validate_new_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    end_sessions(user)
    audit(actor, "users.set_password", username=user.get_username())


def reset_link(actor: Actor, user: User) -> str:
    """A link with which ``user`` chooses a new password, for an administrator to pass
    on (Envoi sends console users no mail). It works once: setting the password, or
    signing in, changes what its signature covers; and at most
    ``PASSWORD_RESET_TIMEOUT`` seconds."""
    authorize(actor, "users.manage")
    if not user.is_active:
        raise AccountError("The user is deactivated: reactivate it first.")
    path = reverse("web:password_reset", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user)})
    audit(actor, "users.reset_link", username=user.get_username())
    return settings.ENVOI_BASE_URL + path


def end_sessions(user: User) -> int:
    """Delete every live session of ``user``; how many there were. Sessions are signed
    blobs keyed by a random id, so each live one is read: a console has few."""
    owned = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    Session.objects.filter(pk__in=owned).delete()
    return len(owned)
