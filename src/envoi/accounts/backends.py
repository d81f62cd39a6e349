"""The password check behind every sign-in (the console's form, and any other caller of
``django.contrib.auth.authenticate``), throttled and audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from envoi.accounts import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None or "\x00" in str(username):
            return None  # no account name holds a NUL (and PostgreSQL cannot compare it)
        address = throttle.client_address(request)
        try:
            throttle.check(username, address)
        except throttle.LoginThrottled as refused:
            # Django's authenticate() answers None to this, and tries no other backend.
            raise PermissionDenied(str(refused)) from refused
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            throttle.record_failure(username, address)
            throttle.audit_failure(username, address, "wrong user name or password")
        else:
            throttle.record_success(username)
        return user
