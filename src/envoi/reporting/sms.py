"""The KPIs of an SMS delivery (SPEC §11): to deliver, sent, delivered (from the
receipts), errors, STOP replies and parts sent, and the click-through rate when the
delivery shortens and tracks its links. SMS has no open rate."""

from __future__ import annotations

from typing import Any

from django.db import connection

from envoi.deliveries.models import Delivery


def sms_kpis(delivery: Delivery) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT p.row_id) FROM sending_smspart p "
            "JOIN sending_sendinglog s ON s.id = p.row_id WHERE s.delivery_id = %s",
            [delivery.pk])
        parts_sent, sent = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FILTER (WHERE status = 'delivered'), "
            "COUNT(*) FILTER (WHERE status = 'failed') FROM sending_sendinglog "
            "WHERE delivery_id = %s", [delivery.pk])
        delivered, errors = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM bounces_inboundsms i JOIN sending_sendinglog s "
            "ON s.id = i.row_id WHERE i.stop AND s.delivery_id = %s", [delivery.pk])
        (stop_replies,) = cursor.fetchone()
        clicks = _clicks(cursor, delivery)
    return {"to_deliver": delivery.to_deliver, "sent": sent, "delivered": delivered,
            "delivered_rate": round(delivered / sent, 4) if sent else 0.0,
            "errors": errors,
            "error_rate": round(errors / delivery.to_deliver, 4) if delivery.to_deliver
            else 0.0,
            "stop_replies": stop_replies, "parts_sent": parts_sent, **clicks}


def _clicks(cursor, delivery: Delivery) -> dict[str, Any]:
    """Clicks and click-through rate, only for a delivery whose links are short tracked
    links: distinct messages with a click (as email's, from ``MessageEngagement``) over
    the messages the SMSC took and has not reported failed (sent or delivered)."""
    if not delivery.track_links:
        return {"clicks": None, "click_rate": None}
    cursor.execute("SELECT COUNT(*) FROM tracking_messageengagement "
                   "WHERE delivery_id = %s AND clicked_at IS NOT NULL", [delivery.pk])
    (clicks,) = cursor.fetchone()
    cursor.execute("SELECT COUNT(*) FROM sending_sendinglog WHERE delivery_id = %s "
                   "AND status IN ('sent', 'delivered')", [delivery.pk])
    (reached,) = cursor.fetchone()
    return {"clicks": clicks, "click_rate": round(clicks / reached, 4) if reached else 0.0}


CHANNEL_KPIS = {"sms": sms_kpis}
"""KPIs a channel adds to the common ones (email's are the common ones)."""
