"""Removing stored inbound messages (raw bounces, complaints, auto-replies) once they
are older than the retention period. What they changed stays: the sending-log row's
status, the quarantine and its history."""

from __future__ import annotations

from datetime import datetime

from envoi.batches import delete_in_batches
from envoi.bounces.models import InboundMessage


def prune(before: datetime) -> dict[str, int]:
    """Delete the inbound messages received before ``before``, in batches."""
    old = InboundMessage.objects.filter(received_at__lt=before)
    return {"inbound_messages": delete_in_batches(old)}
