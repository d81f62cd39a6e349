"""The counts shown with a delivery while it is prepared and sent, read live.

Here ``sent`` is what the relay accepted — the KPIs (:mod:`envoi.reporting.kpis`) call
that ``delivered``, and use ``sent`` for delivered + failed, as SPEC §6 does. Both read
the sending log through :func:`~envoi.reporting.kpis.add_sending_counts`.
"""

from __future__ import annotations

from envoi.deliveries.models import Delivery
from envoi.reporting.kpis import Counts, add_sending_counts, execution_ids


def delivery_counts(delivery: Delivery) -> dict:
    """Live counts; a recurring delivery's sent, failed, pending and ignored are the
    sums of its executions'."""
    executions = execution_ids([delivery.pk]).get(delivery.pk)
    counts = {delivery.pk: Counts(to_deliver=delivery.to_deliver)}
    if executions:
        counts = {pk: Counts(to_deliver=n) for pk, n in Delivery.objects.filter(
            pk__in=executions).values_list("pk", "to_deliver")}
    add_sending_counts(counts)
    found = Counts()
    for each in counts.values():
        found.absorb(each)
    return {
        "targeted": delivery.targeted,
        "to_deliver": found.to_deliver,
        "sent": found.delivered,
        "failed": found.failed,
        "pending": found.pending,
        "ignored": found.ignored,
        "exclusions": delivery.exclusions,
    }
