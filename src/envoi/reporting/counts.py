"""Sending counts of a delivery, read from its sending log.

``sent`` counts messages the relay accepted (``sent`` and ``delivered`` rows);
``failed`` counts refused ones; ``pending`` those still queued or awaiting a retry;
``ignored`` those dropped by a stop.
"""

from __future__ import annotations

from django.db.models import Count

from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog, SendStatus


def delivery_counts(delivery: Delivery) -> dict:
    by_status = dict(
        SendingLog.objects.filter(delivery=delivery).order_by()
        .values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {
        "targeted": delivery.targeted,
        "to_deliver": delivery.to_deliver,
        "sent": by_status.get(SendStatus.SENT, 0) + by_status.get(SendStatus.DELIVERED, 0),
        "failed": by_status.get(SendStatus.FAILED, 0),
        "pending": by_status.get(SendStatus.PENDING, 0),
        "ignored": by_status.get(SendStatus.IGNORED, 0),
        "exclusions": delivery.exclusions,
    }
