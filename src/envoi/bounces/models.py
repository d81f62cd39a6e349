from __future__ import annotations

from django.db import models


class QuarantineStatus(models.TextChoices):
    VALID = "valid"
    ERRONEOUS = "erroneous"
    QUARANTINED = "quarantined"
    DENYLISTED = "denylisted"
    ALLOWLISTED = "allowlisted"


# Statuses that preparation excludes (SPEC §3, §8).
BLOCKING_STATUSES = (QuarantineStatus.QUARANTINED, QuarantineStatus.DENYLISTED)


class Quarantine(models.Model):
    """The standing of one address (SPEC §8). Addresses are stored lower-cased."""

    channel = models.CharField(max_length=8, default="email")
    address = models.CharField(max_length=320)
    status = models.CharField(max_length=12, choices=QuarantineStatus.choices,
                              default=QuarantineStatus.VALID)
    error_count = models.IntegerField(default=0)
    reason = models.CharField(max_length=64, blank=True, default="")
    first_error_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="unique_quarantine")
        ]

    def __str__(self) -> str:
        return f"{self.address}: {self.status}"
