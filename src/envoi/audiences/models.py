from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower


class Profile(models.Model):
    """A person Envoi may contact (SPEC §1)."""

    email = models.CharField(max_length=320, blank=True, default="")
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
        indexes = [models.Index(Lower("email"), name="profile_email_lower")]

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
