"""An SMTP relay that counts what it accepts and, on request, misbehaves like a bad one.

The fault-injection suite (``tests/faults``) needs a receiving side that keeps up with
several workers and records, for every recipient, how many copies arrived and under
which Message-ID — nothing else, so the sink stays cheap. With a :class:`FaultPlan` it
also answers some transactions badly::

    plan = FaultPlan(seed=7, rates={Fault.TEMPFAIL_451: 0.05, Fault.TARPIT: 0.002})
    with FaultySmtpServer(plan) as server: ...

A transaction's fault depends only on the seed, the recipient and how many times that
recipient was tried before, never on the order in which workers arrive: the same seed
replays the same faults.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.support.smtpd import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Fault(StrEnum):
    TEMPFAIL_421 = "421"
    """``421 4.3.2`` at RCPT TO: the server is going away (transient)."""
    TEMPFAIL_451 = "451"
    """``451 4.3.0`` at RCPT TO: try again later (transient)."""
    HARD_550 = "550"
    """``550 5.1.1 User unknown`` at RCPT TO (permanent)."""
    DROP_MID_DATA = "drop"
    """Answer DATA with 354, read the first line of the message, hang up."""
    TARPIT = "tarpit"
    """Never answer RCPT TO: the client has to give up on its own timeout."""


REPLIES = {
    Fault.TEMPFAIL_421: "421 4.3.2 Service shutting down, try again later",
    Fault.TEMPFAIL_451: "451 4.3.0 Temporary local problem, try again later",
    Fault.HARD_550: "550 5.1.1 User unknown",
}


@dataclass(frozen=True)
class FaultPlan:
    """Which transactions misbehave: ``rates`` gives each fault's probability."""

    seed: int
    rates: Mapping[Fault, float] = field(default_factory=dict)

    def fault_for(self, rcpt: str, attempt: int) -> Fault | None:
        """The fault of ``rcpt``'s ``attempt``-th transaction (1-based), or None."""
        draw = random.Random(f"{self.seed}:{rcpt}:{attempt}").random()
        for fault, rate in self.rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None


NO_FAULTS = FaultPlan(seed=0)


class FaultySmtpServer:
    """aiosmtpd in its own thread: accepts, counts, and plays its :class:`FaultPlan`."""

    def __init__(self, plan: FaultPlan = NO_FAULTS, *, host: str = "127.0.0.1"):
        self.plan = plan
        self.host = host
        self.port = free_port(host)
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()
        self._message_ids: dict[str, set[str]] = {}
        self._history: dict[str, list[Fault | None]] = {}
        self.injected: Counter[Fault] = Counter()
        self._controller = _Controller(self, hostname=host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FaultySmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def accepted(self) -> Counter[str]:
        """Copies accepted per recipient (a copy of the counter)."""
        with self._lock:
            return Counter(self._accepted)

    def cpu_seconds(self) -> float:
        """CPU time the server's thread used so far: against the wall time of a run, it
        tells whether the relay kept up or was the bottleneck."""
        loop = self._controller.loop
        return asyncio.run_coroutine_threadsafe(_thread_time(), loop).result(5)

    def message_ids(self, rcpt: str) -> set[str]:
        with self._lock:
            return set(self._message_ids.get(rcpt, ()))

    def refused_with(self, fault: Fault) -> set[str]:
        """Recipients the server answered ``fault`` at least once."""
        with self._lock:
            return {rcpt for rcpt, history in self._history.items() if fault in history}

    def history(self, rcpt: str) -> list[Fault | None]:
        """What each transaction for ``rcpt`` met, in order (None: no fault)."""
        with self._lock:
            return list(self._history.get(rcpt, ()))

    # -- called from the server thread ---------------------------------------------

    def _begin(self, rcpt: str) -> Fault | None:
        with self._lock:
            history = self._history.setdefault(rcpt, [])
            fault = self.plan.fault_for(rcpt, len(history) + 1)
            history.append(fault)
            if fault is not None:
                self.injected[fault] += 1
            return fault

    def _accept(self, rcpt: str, data: bytes) -> None:
        header_end = data.find(b"\r\n\r\n")
        found = _MESSAGE_ID.search(data[:header_end] if header_end >= 0 else data)
        with self._lock:
            self._accepted[rcpt] += 1
            self._message_ids.setdefault(rcpt, set()).add(
                found.group(1).decode() if found else "")


class _Handler:
    def __init__(self, owner: FaultySmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(self, server: SMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        # aiosmtpd reads commands in order, so Envoi's pipelined envelope works; offering
        # it keeps the relay as fast as a real one on loopback.
        session.host_name = hostname
        responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        fault = self.owner._begin(address)
        envelope.fault = fault
        if fault is Fault.TARPIT:
            await _forever()  # the client's timeout closes the connection, which cancels us
        if fault in REPLIES:
            return REPLIES[fault]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.owner._accept(rcpt, bytes(envelope.original_content))
        return "250 2.0.0 OK: queued"


class _FaultySMTP(SMTP):
    """aiosmtpd's protocol, able to hang up in the middle of a message's data."""

    async def smtp_DATA(self, arg: str) -> None:
        if getattr(self.envelope, "fault", None) is not Fault.DROP_MID_DATA:
            await super().smtp_DATA(arg)
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # some of the message has arrived
        assert self.transport is not None
        self.transport.close()
        await _forever()  # connection_lost cancels this session


async def _thread_time() -> float:
    return time.thread_time()


async def _forever() -> None:
    await asyncio.Event().wait()


class _Controller(Controller):
    def __init__(self, owner: FaultySmtpServer, **kwargs: Any) -> None:
        super().__init__(_Handler(owner), **kwargs)

    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)
