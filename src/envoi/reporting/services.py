"""Reporting actions the API and the CLI share: role check, work, audit."""

from __future__ import annotations

from typing import Any

from envoi.accounts.services import Actor, audit, require
from envoi.deliveries.models import Delivery
from envoi.reporting import kpis
from envoi.reporting.counts import delivery_counts
from envoi.reporting.models import DeliveryKpis


def compute_stats(user: Actor, delivery: Delivery) -> dict[str, Any]:
    """Compute stats (SPEC §6): every KPI recomputed from the logs now, and stored."""
    require(user, "delivery.view", delivery_id=delivery.pk)
    kpis.compute_stats(delivery.pk)
    audit(user, "delivery.compute_stats", delivery_id=delivery.pk)
    return _answer(delivery)


def delivery_kpis(user: Actor, delivery: Delivery) -> dict[str, Any]:
    """The stored KPIs with when they were computed, and the live sending counts and
    unsubscribe reasons.

    A delivery never computed before is refreshed first (from the engagement rows,
    which are always current), so there is always a figure and its time.
    """
    require(user, "delivery.view", delivery_id=delivery.pk)
    if not DeliveryKpis.objects.filter(delivery_id=delivery.pk).exists():
        kpis.refresh(delivery.pk)
    return _answer(delivery)


def stored_kpis(user: Actor, delivery: Delivery) -> tuple[dict[str, Any], Any]:
    """(KPIs, computed_at) as stored, without the live counts: what the console shows
    once a delivery is no longer sending. Figures computed before sending ended (by an
    hourly run during the send) would show a send still under way, so they are
    refreshed once, as a delivery never computed before is."""
    require(user, "delivery.view", delivery_id=delivery.pk)
    stored = DeliveryKpis.objects.filter(delivery_id=delivery.pk).first()
    ended = delivery.finished_at
    if stored is None or (ended is not None and stored.computed_at < ended):
        kpis.refresh(delivery.pk)
        stored = DeliveryKpis.objects.get(delivery_id=delivery.pk)
    return stored.values, stored.computed_at


def _answer(delivery: Delivery) -> dict[str, Any]:
    stored = DeliveryKpis.objects.get(delivery_id=delivery.pk)
    from envoi.reporting.sms import CHANNEL_KPIS

    channel_kpis = CHANNEL_KPIS.get(delivery.channel)
    from envoi.consent.services import reason_counts

    return {"delivery_id": delivery.pk, "computed_at": stored.computed_at,
            "kpis": stored.values, "counts": delivery_counts(delivery),
            "channel": delivery.channel,
            "sms": channel_kpis(delivery) if channel_kpis else None,
            "unsubscribe_reasons": reason_counts(delivery.pk)}
