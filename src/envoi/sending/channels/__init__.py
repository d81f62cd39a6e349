"""Channels: the ways out of the sending loop (email, SMS), named by a delivery's
``channel`` and loaded by dotted path on first use.

The worker's claim → render → send → record loop is the same for every channel; what
differs lives behind :class:`Channel`:

- ``renderer(delivery)``: an object whose ``render(row_id, address, profile,
  variant="")`` returns the message to submit, or raises
  :class:`~envoi.deliveries.liquid.PersonalizationError` for that recipient alone.
- ``submit(message, replies, index)``: hand a message to the channel's connections;
  its outcome comes back, in any order, as ``replies.answer(index, reply)``. Every
  submitted message must be answered, even when no connection can be made (with a
  transport failure), or the worker would wait for it forever.
- ``verdict(reply)``: the reply as a channel-neutral :class:`Verdict`. The worker keeps
  the policy (retries, validity period); the channel only says what happened.
- ``ready()``: whether the channel can send now (a relay or an SMSC is usable).
- ``refresh(now)``, ``recorded(rows, now)`` and ``poll(now)`` are optional: keep
  shared connection slots, act on a recorded batch (quarantine, message ids), take in
  what came back (receipts, replies). Each is called from the worker's thread, the only
  one that writes to the database.
- ``close()``: finish what is in flight and close the connections.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.utils.module_loading import import_string

CHANNELS = {
    "email": "envoi.sending.channels.email.EmailChannel",
    "sms": "envoi.sending.channels.sms.channel.SmsChannel",
}


class Verdict(NamedTuple):
    ok: bool
    transient: bool = False  # worth a retry later
    failure_type: str = ""  # hard, soft
    reason: str = ""  # a fixed vocabulary (bounces.qualification)
    reply_text: str = ""  # the peer's own words, kept on the row
    message_id: str = ""  # the peer's id of what it accepted


class Channel:
    name = ""

    def renderer(self, delivery: Any) -> Any:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def submit(self, message: Any, replies: Any, index: int) -> None:
        raise NotImplementedError

    def verdict(self, reply: Any) -> Verdict:
        raise NotImplementedError

    def refresh(self, now: datetime) -> None:
        """Keep what this worker holds across workers (connection slots)."""

    def recorded(self, rows: list, outcomes: list, messages: list, now: datetime) -> None:
        """After a batch's outcomes are written."""

    def poll(self, now: datetime, *, final: bool = False) -> int:
        """Take in what came back on the channel's connections; how many. ``final``:
        the connections are closed, nothing more will come."""
        return 0

    def close(self) -> None:
        raise NotImplementedError


def load_channel(name: str, **options: Any) -> Channel:
    return import_string(CHANNELS[name])(**options)
