"""What an SMSC may take, held across every worker: its submit_sm rate and its binds.

- **Rate.** Each SMSC with a ``rate`` has one cell in the cross-worker ledger of
  :mod:`envoi.sending.ratelimit` (``smsc:<host:port>``, at
  :attr:`~envoi.config.SmppConfig.shared_rate`). A session about to submit reserves a
  block of consecutive slots (at most :data:`BLOCK_SECONDS` of sending, one short
  transaction) and sends part ``i`` no earlier than slot ``i``. Reservations of
  different sessions, in any worker, never overlap, so over any window of ``T`` seconds
  the SMSC receives at most ``rate × T + 1`` submit_sm plus what :data:`LATE` lets a
  late slot carry; a slot later than that is dropped rather than sent in a burst. A
  session that dies leaves its slots unused: the others only slow down.
- **Binds.** An SMSC with ``max_binds`` has that many connection slots leased in the
  database (``RelaySlot``, relay ``smpp:<host:port>``), exactly as a relay's
  ``max_connections`` (:class:`envoi.sending.relays.SlotLedger`): the worker's loop
  renews the slots it holds and takes as many as it has sessions for; a session binds
  only while its number is below what its worker holds. A dead worker's slots expire
  with its lease.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from envoi.config import SmppConfig

log = logging.getLogger("envoi.smpp")

BLOCK_SECONDS = 0.25  # of sending reserved at a time
LATE = 0.05  # seconds a slot may be used late; later, it is dropped
RETRY_AFTER = 1.0  # seconds without sending when the ledger cannot be reached


class SharedRate:
    """One session's side of its SMSC's rate cell (used from the session's thread,
    which then has its own database connection: :meth:`close` ends it)."""

    def __init__(self, config: SmppConfig):
        self.key = f"smsc:{config.name}"
        self.rate = config.shared_rate
        self.slots: deque[float] = deque()  # time.monotonic() of each reserved slot
        self.blocked_until = 0.0

    def wait(self, wanted: int) -> float:
        """Seconds until the next part may go (0: now, and its slot is used)."""
        now = time.monotonic()
        while self.slots and self.slots[0] < now - LATE:
            self.slots.popleft()  # too late to use without a burst
        if not self.slots:
            if now < self.blocked_until:
                return self.blocked_until - now
            self._reserve(wanted, now)
            if not self.slots:
                return RETRY_AFTER
        delay = self.slots[0] - now
        if delay > 0:
            return delay
        self.slots.popleft()
        return 0.0

    def _reserve(self, wanted: int, now: float) -> None:
        from envoi.sending.ratelimit import reserve

        count = max(1, min(wanted, math.ceil(self.rate * BLOCK_SECONDS)))
        wall = timezone.now()
        try:
            start = reserve(self.key, self.rate, count, wall)
        except DatabaseError:
            log.warning("SMSC rate ledger %s unreachable; not sending for %g s", self.key,
                        RETRY_AFTER, exc_info=True)
            connection.close()
            self.blocked_until = now + RETRY_AFTER
            return
        first = now + (start - wall).total_seconds()
        self.slots.extend(first + index / self.rate for index in range(count))

    def close(self) -> None:
        connection.close()


@dataclass
class _Capped:
    """An SMSC as :class:`~envoi.sending.relays.SlotLedger` sees a capped relay."""

    name: str
    config: Any


@dataclass(frozen=True)
class _CapConfig:
    max_connections: int


class BindSlots:
    """The binds each capped SMSC allows this worker, leased across workers through
    :class:`~envoi.sending.relays.SlotLedger` (the pool side of its contract:
    ``relays``, ``wanted`` and ``set_caps``)."""

    def __init__(self, configs: list[SmppConfig], holder: str, lease: timedelta):
        from envoi.sending.relays import SlotLedger

        self.relays = [_Capped(slot_name(config), _CapConfig(config.max_binds))
                       for config in configs if config.max_binds]
        self.wanted_binds = {slot_name(config): config.connections for config in configs
                             if config.max_binds}
        self.caps: dict[str, int] = dict.fromkeys(self.wanted_binds, 0)
        self.ledger = SlotLedger(self, holder, lease)  # type: ignore[arg-type]

    def wanted(self) -> dict[str, int]:
        return self.wanted_binds

    def set_caps(self, caps: dict[str, int]) -> None:
        self.caps = caps

    def allows(self, config: SmppConfig, number: int) -> bool:
        """Whether session ``number`` to this SMSC may be bound now."""
        return not config.max_binds or number < self.caps.get(slot_name(config), 0)

    def refresh(self, now: datetime) -> None:
        self.ledger.refresh(now)

    def release(self) -> None:
        self.ledger.release()


def slot_name(config: SmppConfig) -> str:
    return f"smpp:{config.name}"
