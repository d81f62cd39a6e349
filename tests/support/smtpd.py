"""A real SMTP server (aiosmtpd) for behaviour tests: it records, refuses and hangs up.

Tests talk to it over TCP exactly as Envoi talks to a relay, so they exercise the real
protocol, not a mock of it::

    server.script("bad@x.test", "550 5.1.1 User unknown")             # at RCPT TO
    server.script("full@x.test", "452 4.2.2 Mailbox full", at="data")  # after DATA
    server.script("drop@x.test", DISCONNECT)                           # hang up

Unscripted recipients are accepted and every accepted message is kept in
``server.messages``. aiosmtpd does not offer PIPELINING itself; this server adds it to
its EHLO reply (aiosmtpd reads commands in order, so pipelined clients work) unless
``pipelining`` is set to False, so both client paths can be tested.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DISCONNECT = "<disconnect>"
"""Scripted reply that makes the server close the connection instead of answering."""

Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    """MAIL FROM parameters as received, e.g. ``("SIZE=1234",)``."""
    received_at: float = field(default_factory=time.monotonic)
    """When the server accepted it (``time.monotonic()``), to measure rates."""

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=default_policy)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class _Script:
    reply: str
    stage: Stage
    remaining: int | None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpTestServer:
    """An aiosmtpd server in its own thread, with scripted replies per recipient."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, pipelining: bool = True,
                 credentials: tuple[str, str] | None = None):
        """``credentials`` (user, password) enables AUTH over plain TCP and accepts only
        that pair (not required, which aiosmtpd warns about without TLS)."""
        self.host = host
        self.port = port or free_port(host)
        self.pipelining = pipelining
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._scripts: dict[str, _Script] = {}
        self._connections = 0
        self._open_transports: set[asyncio.BaseTransport] = set()
        self.most_concurrent = 0
        """The most sessions that were open at once since start or clear()."""
        auth: dict[str, Any] = {}
        if credentials:
            auth = {"authenticator": _Authenticator(*credentials), "auth_require_tls": False}
        self._controller = _Controller(self, hostname=host, port=self.port, **auth)

    def start(self) -> None:
        self._controller.start()
        with self._lock:
            self._connections = 0  # forget the Controller's own readiness probe
            self.most_concurrent = 0

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Accepted messages, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """How many SMTP connections clients have opened since start or clear()."""
        with self._lock:
            return self._connections

    def script(self, rcpt: str, reply: str, *, at: Stage = "rcpt", times: int | None = None
               ) -> None:
        """Answer ``rcpt`` with ``reply`` (e.g. ``"550 5.1.1 User unknown"`` or DISCONNECT)
        at RCPT TO or at the end of DATA; ``times`` limits how often (None: always)."""
        with self._lock:
            self._scripts[rcpt.lower()] = _Script(reply, at, times)

    def clear(self) -> None:
        """Forget messages, scripts and the connection count."""
        with self._lock:
            self._messages.clear()
            self._scripts.clear()
            self._connections = 0
            self.most_concurrent = len(self._open_transports)

    def drop_connections(self) -> None:
        """Close every open session, as a relay's idle timeout would."""
        loop = self._controller.loop
        done = threading.Event()

        def close_all() -> None:
            for transport in list(self._open_transports):
                transport.close()
            done.set()

        loop.call_soon_threadsafe(close_all)
        done.wait(5)

    # -- called from the server thread ---------------------------------------------

    def _opened(self, transport: asyncio.BaseTransport) -> None:
        self._open_transports.add(transport)
        with self._lock:
            self._connections += 1
            self.most_concurrent = max(self.most_concurrent, len(self._open_transports))

    def _closed(self, transport: asyncio.BaseTransport) -> None:
        self._open_transports.discard(transport)

    def _scripted(self, rcpt: str, stage: Stage) -> str | None:
        with self._lock:
            script = self._scripts.get(rcpt.lower())
            if script is None or script.stage != stage:
                return None
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    del self._scripts[rcpt.lower()]
            return script.reply

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)


class _Handler:
    """aiosmtpd hooks: advertise PIPELINING, play scripts, record what is accepted."""

    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_EHLO(self, server: SMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.owner.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.owner._scripted(address, "rcpt")
        if reply is None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        return await _answer(server, reply)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            reply = self.owner._scripted(rcpt, "data")
            if reply is not None:
                return await _answer(server, reply)
        self.owner._record(ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content),
            mail_options=tuple(envelope.mail_options),
        ))
        return "250 2.0.0 OK: queued"


async def _answer(server: SMTP, reply: str) -> str:
    if reply != DISCONNECT:
        return reply
    assert server.transport is not None
    server.transport.close()
    await asyncio.Event().wait()  # connection_lost cancels this session; never answer
    raise AssertionError("unreachable")


class _Authenticator:
    """Accepts exactly one user name and password (AUTH PLAIN or LOGIN)."""

    def __init__(self, user: str, password: str) -> None:
        self._expected = LoginPassword(user.encode(), password.encode())

    def __call__(self, server: SMTP, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        return AuthResult(success=auth_data == self._expected, handled=False)


class _TrackedSMTP(SMTP):
    """aiosmtpd's protocol, reporting its connections to the owning test server."""

    def __init__(self, owner: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._owner._opened(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.transport is not None:
            self._owner._closed(self.transport)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, owner: SmtpTestServer, **kwargs: Any) -> None:
        super().__init__(_Handler(owner), **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        return _TrackedSMTP(self._owner, self.handler, **self.SMTP_kwargs)
