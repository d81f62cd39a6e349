"""The embedded shape's outbox: an SMTP server that keeps every message it receives.

``envoi demo`` sends through real SMTP, like production, to this server on
127.0.0.1; the console then shows the captured messages (:class:`OutboxMessage`). It
runs aiosmtpd in its own thread and writes through the ORM from one dedicated thread,
because Django refuses ORM calls from inside an event loop and SQLite wants a single
writer anyway.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from functools import partial
from typing import Any

from aiosmtpd.controller import Controller
from django.db import connections

from envoi.sending.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def header_subject(data: bytes) -> str:
    """The decoded Subject of a raw message, or "" when it has none or it is unreadable."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        return str(headers.get("Subject", ""))
    except Exception:  # a capture must never be lost to a malformed header
        log.warning("outbox: unreadable Subject header", exc_info=True)
        return ""


def store_message(mail_from: str, rcpt_to: list[str], data: bytes) -> OutboxMessage:
    """Save one received message (called on the capture server's writer thread)."""
    return OutboxMessage.objects.create(
        mail_from=mail_from[:320],
        rcpt_to=list(rcpt_to),
        subject=header_subject(data),
        data=data,
    )


class _CaptureHandler:
    """aiosmtpd handler: accept every message and hand it to the writer thread."""

    def __init__(self, writer: ThreadPoolExecutor) -> None:
        self._writer = writer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        store = partial(store_message, envelope.mail_from or "", list(envelope.rcpt_tos),
                        bytes(envelope.original_content))
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, store)
        except Exception:
            log.exception("outbox: could not store a message")
            return "451 4.3.0 Could not store the message, try again later"
        return "250 2.0.0 OK: captured"


class CaptureServer:
    """A local SMTP server whose messages land in the outbox table.

    Accepts 8BITMIME and SMTPUTF8 and messages up to 10 MB. It does not offer
    PIPELINING (aiosmtpd does not), so clients send commands one at a time.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 2525) -> None:
        self.host = host
        self.port = port
        self._writer: ThreadPoolExecutor | None = None
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envoi-outbox")
        controller = Controller(
            _CaptureHandler(writer),
            hostname=self.host,
            port=self.port,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
        )
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

    def __enter__(self) -> CaptureServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
