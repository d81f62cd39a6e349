"""The KPIs of each language variant of a delivery (SPEC §6 definitions, one
:class:`~envoi.reporting.kpis.Counts` per variant), computed live from the sending log
and the engagement rows: the variant is a column of the sending log."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count

from envoi.accounts.services import Actor, require
from envoi.deliveries.models import Delivery
from envoi.reporting.kpis import (
    ENGAGEMENT_COUNTS,
    Counts,
    execution_ids,
    kpis_of,
)
from envoi.sending.models import SendingLog
from envoi.sql import among
from envoi.tracking.models import MessageEngagement


def variant_kpis(user: Actor, delivery: Delivery) -> dict[str, Any]:
    """``{variant: KPIs}`` ('' is the default variant); a recurring delivery sums its
    executions."""
    require(user, "delivery.view", delivery_id=delivery.pk)
    ids = [delivery.pk, *execution_ids([delivery.pk]).get(delivery.pk, [])]
    counts: dict[str, Counts] = {}
    rows = (SendingLog.objects.filter(delivery_id__in=ids).order_by()
            .values_list("variant", "status").annotate(n=Count("*")))
    for variant, status, n in rows:
        found = counts.setdefault(variant, Counts())
        found.to_deliver += n
        found.count_status(status, n)
    for variant, engagement in _engagement(ids).items():
        counts.setdefault(variant, Counts()).engagement = engagement
    return {variant: kpis_of(found) for variant, found in sorted(counts.items())}


def _engagement(delivery_ids: list[int]) -> dict[str, dict[str, int]]:
    condition, params = among("e.delivery_id", delivery_ids)
    columns = ", ".join(f"COUNT(e.{column})" for column in ENGAGEMENT_COUNTS.values())
    sql = (f"SELECT s.variant, {columns} FROM {MessageEngagement._meta.db_table} e "
           f"JOIN {SendingLog._meta.db_table} s ON s.id = e.row_id "
           f"WHERE {condition} GROUP BY s.variant")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {variant: dict(zip(ENGAGEMENT_COUNTS, values, strict=True))
                for variant, *values in cursor.fetchall()}
