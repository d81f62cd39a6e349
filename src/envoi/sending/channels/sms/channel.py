"""The SMS channel: SMPP sessions (:mod:`.transport`), messages rendered and cut into
parts (:mod:`.render`), SMSC statuses qualified by :mod:`envoi.bounces.smpp`, and
receipts and replies recorded through :mod:`envoi.bounces.sms`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from envoi.bounces import sms as inbound_sms
from envoi.bounces.qualification import HARD
from envoi.bounces.smpp import qualify_status, status_name
from envoi.config import smscs_from_url
from envoi.sending.channels import Channel, Verdict
from envoi.sending.channels.sms.pacing import BindSlots
from envoi.sending.channels.sms.render import SmsMessage, SmsRenderer
from envoi.sending.channels.sms.transport import Inbound, SmppPool, SmppReply

log = logging.getLogger("envoi.sms")

RECEIPT_GRACE = 30.0
"""Seconds a receipt that matches no part waits to be matched again: an SMSC that
answers at once can report a part before the worker has recorded the batch."""


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, *, smpp_url: str, clock: Callable[[], datetime], worker_id: str = "",
                 lease: timedelta = timedelta(seconds=60), **_: Any):
        configs = smscs_from_url(smpp_url)
        capped = any(config.max_binds for config in configs)
        self.binds = BindSlots(configs, worker_id or f"sms:{id(self)}", lease) if capped \
            else None
        self.pool = SmppPool(configs, self.binds)
        self.clock = clock
        self.early: list[Inbound] = []  # receipts waiting for their batch to be recorded

    def renderer(self, delivery: Any) -> SmsRenderer:
        return SmsRenderer(delivery)

    def ready(self) -> bool:
        return self.pool.ready()

    def refresh(self, now: datetime) -> None:
        """Keep this worker's bind slots of SMSCs with ``max_binds``."""
        if self.binds is not None:
            self.binds.refresh(now)

    def submit(self, message: SmsMessage, replies: Any, index: int) -> None:
        self.pool.submit(message, replies, index)

    def verdict(self, reply: SmppReply) -> Verdict:
        parts = " ".join(reply.message_ids)
        if reply.ok:
            return Verdict(True, reply_text=f"{reply.smsc} ok {parts}"[:500],
                           message_id=parts[:250])
        found = qualify_status(reply.status)
        text = f"{reply.smsc} {status_name(reply.status)} {reply.detail}".strip()
        return Verdict(False, found.transient, found.failure_type, found.reason, text[:500])

    def recorded(self, rows: list, outcomes: list, messages: list[SmsMessage],
                 now: datetime) -> None:
        """Keep the SMSC's id of every part sent, for its receipt to find; a status that
        says the number cannot receive (an invalid destination) quarantines it."""
        by_row = {message.row_id: message for message in messages}
        sent = [(o.row_id, o.message_id.split()) for o in outcomes
                if o.status == "sent" and o.message_id and o.row_id in by_row]
        inbound_sms.record_parts(sent, now)
        inbound_sms.quarantine_numbers([(o.row_id, o.failure_reason) for o in outcomes
                                        if o.status == "failed" and o.failure_type == HARD],
                                       now)

    def poll(self, now: datetime, *, final: bool = False) -> int:
        events = self.early + self.pool.drain_inbound()
        if not events:
            return 0
        unmatched = inbound_sms.take_in(events, now)
        deadline = float("inf") if final else time.time() - RECEIPT_GRACE
        self.early = [event for event in unmatched if event.received_at > deadline]
        late = [event for event in unmatched if event.received_at <= deadline]
        inbound_sms.keep_unmatched(late, now)
        return len(events)

    def close(self) -> None:
        self.pool.close()
        if self.binds is not None:
            self.binds.release()
