"""Sending domains and their DKIM keys (loaded by :mod:`envoi.sending.models`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DkimAlgorithm(models.TextChoices):
    RSA = "rsa-sha256"
    ED25519 = "ed25519-sha256"  # RFC 8463


class SendingDomain(models.Model):
    """A domain Envoi sends From: its DKIM keys, and the DNS records it is checked for."""

    domain = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The last DNS checks (envoi.sending.email.domains), kept for preparation and pages.
    checked_at = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class DkimKey(models.Model):
    """One DKIM selector of a domain. The private key is stored encrypted
    (:mod:`envoi.sending.email.keys`) and never leaves the server; a retired key no
    longer signs, and its record may be removed from the DNS."""

    domain = models.ForeignKey(SendingDomain, on_delete=models.CASCADE, related_name="keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=16, choices=DkimAlgorithm.choices)
    public_key = models.TextField()  # the base64 p= value of the DNS record
    private_key = models.TextField()  # AES-GCM encrypted PKCS #8, base64
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain", "id"]  # in creation order: rotations read top to bottom
        constraints = [models.UniqueConstraint(fields=["domain", "selector"],
                                               name="dkim_key_unique_selector")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.domain}"

    @property
    def key_type(self) -> str:
        """The ``k=`` tag: ``rsa`` or ``ed25519``."""
        return self.algorithm.split("-", 1)[0]
