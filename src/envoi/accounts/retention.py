"""Removing audit entries older than their retention period."""

from __future__ import annotations

from datetime import datetime

from envoi.accounts.models import AuditEntry
from envoi.batches import delete_in_batches


def prune(before: datetime) -> dict[str, int]:
    """Delete the audit entries written before ``before``, in batches."""
    return {"audit_entries": delete_in_batches(AuditEntry.objects.filter(at__lt=before))}
