from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower, Trim


class Profile(models.Model):
    """A person Envoi may contact (SPEC §1)."""

    email = models.CharField(max_length=320, blank=True, default="")
    # The profile's key in the customer's own systems; imports match on it when given.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    phone = models.CharField(max_length=32, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)
    is_test = models.BooleanField(default=False, help_text="Receives proofs only.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Imports match addresses case-insensitively and trimmed. The index is not unique:
        # installations may already hold the same address twice (see importer.py). It is
        # the only index on the address: every index is paid again by each row an import
        # writes (docs/BENCHMARKS.md, "Upsert import").
        indexes = [models.Index(Lower(Trim("email")), name="profile_email_key")]
        # A constraint rather than ``unique=True``, which on PostgreSQL adds a second,
        # pattern-matching index that nothing here searches with.
        constraints = [models.UniqueConstraint(fields=["external_id"],
                                               name="profile_external_id_unique")]

    def __str__(self) -> str:
        return self.email or self.phone or f"profile {self.pk}"

    @property
    def display_name(self) -> str:
        """The full name in its language's order (family name first in ko and ja)."""
        from envoi.audiences.names import display_name

        return display_name(self.first_name, self.last_name, self.language)


class Audience(models.Model):
    """Which profiles a delivery targets: a saved filter, or a static list."""

    FILTER = "filter"
    LIST = "list"
    KIND_CHOICES = [(FILTER, "filter"), (LIST, "list")]

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=KIND_CHOICES, default=FILTER)
    filter = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class AudienceMember(models.Model):
    """Membership of a static list audience (filled by CSV import)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="members")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audience", "profile"], name="unique_member")
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.audience_id}"


class ImportJob(models.Model):
    """One CSV import run from the console: its file, its progress and its outcome.

    The page polls it; the counts and the first rejected rows stay for the report."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "queued"), (RUNNING, "running"), (DONE, "done"),
                      (FAILED, "failed")]

    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(max_length=255)
    path = models.CharField(max_length=1000)
    mode = models.CharField(max_length=8, default="update")
    mapping = models.JSONField(default=list)
    encoding = models.CharField(max_length=32, blank=True, default="")
    list_name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=QUEUED)
    total_rows = models.IntegerField(default=0)
    done_rows = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    errors = models.JSONField(default=list)  # [[line, reason], …], the first 10,000
    message = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name}"

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        return min(99, self.done_rows * 100 // self.total_rows) if self.total_rows else 0
