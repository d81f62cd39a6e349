"""Deliveries with sending-log rows in chosen states, straight into the tables: the
KPIs read the logs, whatever path filled them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from envoi.deliveries.models import Delivery, Status
from envoi.sending.models import SendingLog
from envoi.tracking.ingest import Event

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# status -> (failure_type, failure_reason) it is given unless the caller says otherwise
FAILURES = {"failed": ("hard", "user_unknown"), "ignored": ("ignored", "delivery_stopped")}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def delivery_with_rows(statuses: Sequence[str | tuple[str, str, str]], *,
                       status: str = Status.FINISHED, label: str = "KPIs",
                       first_profile: int = 1000) -> tuple[Delivery, list[SendingLog]]:
    """A started delivery whose sending log holds one row per entry of ``statuses``:
    a status, or (status, failure_type, failure_reason)."""
    delivery = Delivery.objects.create(label=label, sender="news@shop.example.com",
                                       subject="Hello", status=status,
                                       to_deliver=len(statuses), started_at=T0)
    rows = []
    for i, entry in enumerate(statuses):
        state, kind, reason = (entry if isinstance(entry, tuple)
                               else (entry, *FAILURES.get(entry, ("", ""))))
        sent_at = at(i) if state in ("sent", "delivered") else None
        rows.append(SendingLog(delivery=delivery, profile_id=first_profile + i,
                               address=f"p{first_profile + i}@example.com", status=state,
                               failure_type=kind, failure_reason=reason, sent_at=sent_at,
                               updated_at=at(i)))
    return delivery, SendingLog.objects.bulk_create(rows)


def event(row: SendingLog, kind: str, minutes: float, machine: bool = False,
          link_index: int | None = None) -> Event:
    url = f"https://shop.example.com/{link_index}" if kind == "click" else ""
    return Event(row.pk, row.delivery_id, row.profile_id, kind, at(minutes),
                 link_index=link_index, url=url, machine=machine,
                 user_agent="scanner" if machine else "Mozilla/5.0")
