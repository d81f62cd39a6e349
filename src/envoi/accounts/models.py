from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from envoi.accounts.roles import Role

ROLE_CHOICES = [(role.value, role.value) for role in Role]


class UserRole(models.Model):
    """A role given to one user directly."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="envoi_roles")
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="unique_user_role")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.role}"


class GroupRole(models.Model):
    """A role given to every member of a group; roles add up across groups (SPEC §9)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="envoi_roles")
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "role"], name="unique_group_role")
        ]

    def __str__(self) -> str:
        return f"group {self.group_id}: {self.role}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the clear token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A token past its expiry or revoked answers 401; the row stays, for the audit log.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.name or self.pk} of user {self.user_id}"

    def state_at(self, moment: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= moment:
            return "expired"
        return "active"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class AuditEntry(models.Model):
    """Who did (or was refused) what, when, on which delivery."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    allowed = models.BooleanField(default=True)
    delivery_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        verdict = "" if self.allowed else " (refused)"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}{verdict}"


class LoginCounter(models.Model):
    """Failed sign-ins of one account name or one client address, shared by every web
    process on every host (they meet only in the database). Past a number of free
    failures, each further one makes the next attempt wait twice as long."""

    ACCOUNT = "account"
    ADDRESS = "address"

    scope = models.CharField(max_length=16, choices=[(ACCOUNT, ACCOUNT), (ADDRESS, ADDRESS)])
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(db_index=True)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"],
                                               name="unique_login_counter")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}: {self.failures} failures"
