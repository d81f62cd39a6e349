"""The counts shown with a delivery while it is prepared and sent, read live.

Here ``sent`` is what the relay accepted — the KPIs (:mod:`envoi.reporting.kpis`) call
that ``delivered``, and use ``sent`` for delivered + failed, as SPEC §6 does. Both read
the sending log through :func:`~envoi.reporting.kpis.add_sending_counts`.
"""

from __future__ import annotations

from envoi.deliveries.models import Delivery
from envoi.reporting.kpis import Counts, add_sending_counts


def delivery_counts(delivery: Delivery) -> dict:
    counts = {delivery.pk: Counts(to_deliver=delivery.to_deliver)}
    add_sending_counts(counts)
    found = counts[delivery.pk]
    return {
        "targeted": delivery.targeted,
        "to_deliver": delivery.to_deliver,
        "sent": found.delivered,
        "failed": found.failed,
        "pending": found.pending,
        "ignored": found.ignored,
        "exclusions": delivery.exclusions,
    }
