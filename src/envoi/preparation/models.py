from __future__ import annotations

from django.db import models


class ExclusionReason(models.TextChoices):
    ADDRESS_MISSING = "address_missing"
    ADDRESS_INVALID = "address_invalid"
    DUPLICATE = "duplicate"
    DENYLISTED = "denylisted"
    QUARANTINED = "quarantined"
    NO_CONSENT = "no_consent"  # no recorded consent, or an erased address (envoi.consent)
    # SMS: the profile has no phone, or one libphonenumber does not take, or replied STOP
    PHONE_MISSING = "phone_missing"
    PHONE_INVALID = "phone_invalid"
    SMS_OPT_OUT = "sms_opt_out"


class ExclusionLog(models.Model):
    """A profile dropped at preparation, and why (SPEC §3)."""

    delivery = models.ForeignKey("deliveries.Delivery", on_delete=models.CASCADE,
                                 related_name="+", db_index=False)  # see Meta.indexes
    profile = models.ForeignKey("audiences.Profile", on_delete=models.CASCADE,
                                related_name="+", db_constraint=False)
    address = models.CharField(max_length=320, blank=True, default="")
    reason = models.CharField(max_length=24, choices=ExclusionReason.choices)

    class Meta:
        indexes = [models.Index(fields=["delivery", "reason"])]

    def __str__(self) -> str:
        return f"{self.address or self.profile_id}: {self.reason}"
