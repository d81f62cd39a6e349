"""The email channel: SMTP relays with weights, failover and connection caps
(:mod:`envoi.sending.relays`), replies qualified by :mod:`envoi.bounces.qualification`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from envoi.bounces.qualification import HARD, is_transient, qualify
from envoi.bounces.quarantine import note_sending_results
from envoi.config import relays_from_url
from envoi.sending.channels import Channel, Verdict
from envoi.sending.relays import Lanes, RelayPool, SlotLedger
from envoi.sending.smtp import SmtpOutcome
from envoi.sending.variants import VariantRenderer


class EmailChannel(Channel):
    name = "email"

    def __init__(self, *, smtp_url: str, worker_id: str, lease: timedelta, **_: Any):
        relays = relays_from_url(smtp_url)
        self.relays = RelayPool(relays, lanes=relays[0].pool_size)
        self.slots = SlotLedger(self.relays, worker_id, lease)
        self.lanes = Lanes(self.relays)

    def renderer(self, delivery: Any) -> VariantRenderer:
        return VariantRenderer(delivery)

    def ready(self) -> bool:
        return self.relays.any_relay()

    def submit(self, message: Any, replies: Any, index: int) -> None:
        self.lanes.submit(message, replies, index)

    def verdict(self, reply: SmtpOutcome) -> Verdict:
        reply_text = f"{reply.code} {reply.text}".strip()
        if reply.ok:
            return Verdict(True, reply_text=reply_text)
        failure = qualify(reply.code, reply.enhanced, reply.text)
        # A hard failure is final even on a 4xx: only an administrator's rule written
        # for that reply types it hard, and the address is quarantined at once.
        transient = is_transient(reply.code) and failure.failure_type != HARD
        return Verdict(False, transient, failure.failure_type, failure.reason, reply_text)

    def refresh(self, now: datetime) -> None:
        self.slots.refresh(now)

    def recorded(self, rows: list, outcomes: list, messages: list, now: datetime) -> None:
        # Quarantine (SPEC §8); a message that could not be made says nothing of its address.
        note_sending_results(rows, now)

    def close(self) -> None:
        self.lanes.close()
        self.slots.release()
