"""The embedded shape's capture SMSC: the smpp34 library's SMPP server on loopback,
which keeps every SMS it receives (:class:`~envoi.sending.models.OutboxSms`, its parts
joined again by their concatenation header), answers each part with a delivery
receipt, and can send a reply (STOP) to the worker, as a handset would.

It runs in its own thread and event loop, and writes through the ORM from one
dedicated thread (Django refuses ORM calls inside an event loop).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import smpp34
from django.db import connections

from envoi.sending.channels.sms import segments
from envoi.sending.models import OutboxSms

log = logging.getLogger(__name__)

RUNNING: list[CaptureSmsc] = []
"""The capture SMSC of this process, when the embedded shape runs one."""


class CaptureSmsc:
    def __init__(self, host: str = "127.0.0.1", port: int = 2775) -> None:
        self.host, self.port = host, port
        self._ids = itertools.count(1)
        self._sessions: dict[str, smpp34.Esme] = {}
        self._pending: dict[tuple[str, int], dict[int, tuple[bytes, str, int]]] = {}
        self._loop = asyncio.new_event_loop()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envoi-smsc")
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="envoi-smsc")

    @property
    def url(self) -> str:
        return f"smpp://envoi:capture@{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"the capture SMSC did not start on {self.host}:{self.port}")
        RUNNING.append(self)

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)

        async def stopping() -> None:
            await self._server.stop()

        asyncio.run_coroutine_threadsafe(stopping(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._writer.submit(connections.close_all).result()
        self._writer.shutdown(wait=True)

    def reply(self, number: str, text: str, to: str = "") -> bool:
        """Send ``text`` from ``number`` to the worker, as a reply; False when no worker
        is bound to take it."""
        if not self._sessions:
            return False
        future = asyncio.run_coroutine_threadsafe(
            self._deliver(number.lstrip("+"), to, text.encode("utf-16-be"), 0, 8), self._loop)
        future.result(10)
        return True

    # -- the server ----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.create_task(self._serve())
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = smpp34.Server(self.host, self.port, system_id="ENVOI-CAPTURE")
        await self._server.start()

    async def _serve(self) -> None:
        while True:
            try:
                event = await self._server.next()
            except Exception:  # stopped
                return
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                await self._take(event)

    async def _take(self, event: smpp34.SubmitSmEvent) -> None:
        message_id = f"c{next(self._ids)}"
        event.accept(message_id)
        payload = bytes(event.short_message)
        whole = [(payload, message_id, event.data_coding)]
        if event.esm_class & 0x40 and len(payload) >= 6:  # a part: wait for the others
            reference, total, sequence = payload[3], payload[4], payload[5]
            key = (event.destination_addr, reference)
            parts = self._pending.setdefault(key, {})
            parts[sequence] = (payload[6:], message_id, event.data_coding)
            whole = []
            if len(parts) == total:
                whole = [parts[number] for number in sorted(parts)]
                del self._pending[key]
        if whole:
            text = "".join(segments.decode(part, coding) for part, _, coding in whole)
            encoding = segments.UCS2 if whole[0][2] == 8 else segments.GSM7
            record = OutboxSms(source=event.source_addr, destination=f"+{event.destination_addr}",
                               text=text, encoding=encoding, parts=len(whole),
                               message_ids=" ".join(ids for _, ids, _ in whole))
            try:
                await self._loop.run_in_executor(self._writer, record.save)
            except Exception:
                log.exception("capture SMSC: could not store an SMS")
        if event.registered_delivery:
            receipt = (f"id:{message_id} sub:001 dlvrd:001 submit date:0000000000 "
                       f"done date:0000000000 stat:DELIVRD err:000 text:")
            self._loop.create_task(self._deliver(event.destination_addr, event.source_addr,
                                                 receipt.encode(), 0x04, 0,
                                                 event.session_id))

    async def _deliver(self, source: str, destination: str, payload: bytes, esm_class: int,
                       coding: int, session_id: str = "") -> None:
        session = self._sessions.get(session_id) or next(iter(self._sessions.values()), None)
        if session is None:
            return
        try:
            await session.deliver_sm(destination, payload, source_addr=source,
                                     source_addr_ton=1, source_addr_npi=1,
                                     esm_class=esm_class, data_coding=coding)
        except Exception:  # the worker went away; its receipt is lost, as on a real SMSC
            log.warning("capture SMSC: could not deliver to the worker", exc_info=True)
