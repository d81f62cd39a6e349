"""The inbound SMTP listener: where bounces, complaints and auto-replies arrive.

Point the MX of the bounce domain (``ENVOI_BOUNCE_DOMAIN``) at ``envoi bounces
listen``, or forward that domain to it from an existing MTA. It accepts mail for any
address of the bounce domain — the per-recipient return paths, and the address given
to feedback loops — and refuses every other domain, so it is never an open relay.

Each message is handed to :func:`envoi.bounces.ingest.receive` on one writer thread
(Django refuses ORM calls from inside an event loop, and SQLite wants one writer). The
message is stored before ``250`` is answered; only when it cannot be stored does the
sender get a ``451`` and try again later. What the message says never changes the
answer: malformed mail is accepted, kept and listed.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import close_old_connections, connections

from envoi.bounces.ingest import receive

log = logging.getLogger("envoi.bounces")

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def parse_listen(value: str, default_port: int = 2526) -> tuple[str, int]:
    """``host:port`` (or ``port``, or ``[::1]:port``) → (host, port)."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port) if port else default_port


def _receive(raw: bytes, mail_from: str, rcpt_to: list[str]):
    # The writer thread lives as long as the listener: drop a connection the database
    # closed meanwhile (a restart, an idle timeout) instead of failing on it.
    close_old_connections()
    return receive(raw, mail_from, rcpt_to, "smtp")


class _BounceHandler:
    def __init__(self, writer: ThreadPoolExecutor) -> None:
        self._writer = writer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if domain != settings.ENVOI_BOUNCE_DOMAIN.lower():
            return "550 5.7.1 Relaying denied: this server only takes bounces"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        store = partial(_receive, bytes(envelope.original_content or b""),
                        envelope.mail_from or "", list(envelope.rcpt_tos))
        try:
            inbound = await asyncio.get_running_loop().run_in_executor(self._writer, store)
        except Exception:
            log.exception("bounce listener: could not store a message")
            return "451 4.3.0 Could not store the message, try again later"
        return f"250 2.0.0 OK: kept as {inbound.pk}"


class BounceListener:
    """An aiosmtpd server in its own thread; every accepted message is stored."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2526) -> None:
        self.host = host
        self.port = port
        self._writer: ThreadPoolExecutor | None = None
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envoi-bounces")
        controller = Controller(_BounceHandler(writer), hostname=self.host, port=self.port,
                                data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True,
                                decode_data=False)
        try:
            controller.start()
        except BaseException:
            writer.shutdown(wait=False)
            raise
        self._writer, self._controller = writer, controller

    def stop(self) -> None:
        """Stop listening, then close the writer thread's database connection."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._writer is not None:
            self._writer.submit(connections.close_all).result()
            self._writer.shutdown(wait=True)
            self._writer = None

    def __enter__(self) -> BounceListener:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
