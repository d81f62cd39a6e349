"""A test SMSC: the SMPP server of the ``smpp34`` library (not written by this
project), in a thread with its own event loop, and a small harness around it that
records every submit_sm, answers each with a message id, sends the delivery receipts,
and injects replies (MO messages). Faults on demand: throttling, a stall, a dropped
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import smpp34


@dataclass(frozen=True)
class Submitted:
    session: str
    source: str
    source_ton: int
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    message_id: str
    at: float = field(default_factory=time.monotonic)  # when the SMSC took it

    @property
    def udh(self) -> bytes:
        return self.short_message[:6] if self.esm_class & 0x40 else b""

    @property
    def payload(self) -> bytes:
        return self.short_message[6:] if self.esm_class & 0x40 else self.short_message


@dataclass
class SmscHarness:
    host: str = "127.0.0.1"
    port: int = 0
    receipts: bool = True
    stat_for: dict[str, str] = field(default_factory=dict)  # destination -> stat
    err_for: dict[str, str] = field(default_factory=dict)  # destination -> receipt err
    refuse_for: dict[str, int] = field(default_factory=dict)  # destination -> status
    throttle_next: int = 0  # answer this many submit_sm with ESME_RTHROTTLED
    stall: bool = False  # take submit_sm and never answer them
    drop_after: int = 0  # close the connection once this many were accepted (0: never)
    submitted: list[Submitted] = field(default_factory=list)
    throttled: int = 0
    binds: int = 0
    most_sessions: int = 0  # the most sessions bound at once

    def __post_init__(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind((self.host, 0))
                self.port = probe.getsockname()[1]
        self._ids = itertools.count(1)
        self._sessions: dict[str, smpp34.Esme] = {}
        self._held: list[smpp34.SubmitSmEvent] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="test-smsc")
        self._thread.start()
        self._ready.wait(5)

    @property
    def url(self) -> str:
        return f"smpp://envoi:secret@{self.host}:{self.port}"

    # -- what tests do --------------------------------------------------------------------

    def reply(self, source: str, text: str, destination: str = "Envoi") -> None:
        """A mobile-originated message from ``source`` (international digits)."""
        payload = (text.encode("utf-16-be") if not text.isascii() else text.encode())
        coding = 8 if not text.isascii() else 0
        self._call(self._deliver(source, destination, payload, 0, coding))

    def stop(self) -> None:
        async def stopping() -> None:
            await self._server.stop()

        self._call(stopping())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cpu_seconds(self) -> float:
        """CPU time of this process, where the SMSC's thread does nearly all the work."""
        return time.process_time()

    def copies(self) -> Counter[str]:
        """Messages received per destination (a message: its first part)."""
        return Counter(s.destination for s in self.submitted if s.udh[5:6] in (b"", b"\x01"))

    def unbind_all(self) -> None:
        """Drop every session at once, whatever is in flight (an SMSC restart)."""
        async def unbind() -> None:
            for session in list(self._sessions.values()):
                with contextlib.suppress(Exception):  # already gone
                    await session.unbind()
        self._call(unbind())

    def release_stall(self) -> None:
        """End a stall: the held submit_sm are dropped unanswered, as a restarted SMSC
        would; new ones are answered again."""
        self.stall = False
        self._held.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.submitted) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- the server -----------------------------------------------------------------------

    def _call(self, coroutine) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.create_task(self._serve())
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = smpp34.Server(self.host, self.port, system_id="TESTSMSC")
        await self._server.start()

    async def _serve(self) -> None:
        while True:
            try:
                event = await self._server.next()
            except Exception:  # the server stopped
                return
            if isinstance(event, smpp34.Esme):
                self.binds += 1
                self._sessions[event.session_id] = event
                self.most_sessions = max(self.most_sessions, len(self._sessions))
            elif isinstance(event, smpp34.SubmitSmEvent):
                await self._submitted(event)
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)

    async def _submitted(self, event: smpp34.SubmitSmEvent) -> None:
        if self.stall:
            self._held.append(event)  # never answered
            return
        refusal = self.refuse_for.get(event.destination_addr)
        if refusal is not None:
            event.reject(refusal)
            return
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self.throttled += 1
            event.reject(smpp34.ESME_RTHROTTLED)
            return
        message_id = f"m{next(self._ids)}"
        event.accept(message_id)
        self.submitted.append(Submitted(
            event.session_id, event.source_addr, event.source_addr_ton,
            event.destination_addr, event.esm_class, event.data_coding,
            event.registered_delivery, bytes(event.short_message), message_id))
        if self.drop_after and len(self.submitted) >= self.drop_after:
            self.drop_after = 0
            session = self._sessions.get(event.session_id)
            if session is not None:
                self._loop.create_task(session.unbind())
            return
        if self.receipts and event.registered_delivery:
            stat = self.stat_for.get(event.destination_addr, "DELIVRD")
            text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
                    f"submit date:2612051200 done date:2612051200 stat:{stat} "
                    f"err:{self.err_for.get(event.destination_addr, '000')} text:")
            self._loop.create_task(self._deliver(event.destination_addr, event.source_addr,
                                                 text.encode(), 0x04, 0,
                                                 event.session_id))

    async def _deliver(self, source: str, destination: str, payload: bytes, esm_class: int,
                       coding: int, session_id: str | None = None) -> None:
        session = self._sessions.get(session_id or "") or next(iter(self._sessions.values()))
        await session.deliver_sm(destination, payload, source_addr=source,
                                 source_addr_ton=1, source_addr_npi=1, esm_class=esm_class,
                                 data_coding=coding)
