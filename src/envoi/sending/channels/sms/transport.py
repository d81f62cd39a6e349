"""SMPP 3.4 sessions (on ``smpplib``): each a thread holding one ``bind_transceiver``
connection to an SMSC, with a window of outstanding ``submit_sm``.

- **Window.** Up to ``window`` submit_sm are outstanding per connection; the SMSC's
  submit_sm_resp frees a place. A message's parts travel as separate submit_sm; the
  message is answered once every part is.
- **Rate.** ``rate`` submit_sm per second per connection (0: as fast as the SMSC
  answers), held across every worker by the ledger of :mod:`.pacing`; ``max_binds``
  caps the sessions bound to one SMSC across every worker. ``ESME_RTHROTTLED`` and
  ``ESME_RMSGQFUL`` send the part again after a pause that doubles with each pause in
  a row (0.05 s up to 1 s): the connection slows down instead of failing the message.
- **Liveness.** ``enquire_link`` after 30 s without traffic; a submit_sm unanswered for
  ``timeout`` seconds means the SMSC stalled: the connection is dropped and made again.
- **Reconnection.** A dropped or refused connection is made again after a back-off
  (0.5 s doubling up to 30 s). Parts that were outstanding go again on the new
  connection (the SMSC may have taken them: at most the window is sent twice). While a
  session cannot bind, the messages it holds are answered with a transport failure,
  which the worker retries later like an SMTP relay that cannot be reached.
- **Receipts and replies** (``deliver_sm``) arrive on the same session; they are
  acknowledged at once and queued for the worker's thread, which records them
  (:mod:`envoi.bounces.sms`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import select
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import smpplib.client
import smpplib.exceptions
import smpplib.smpp

from envoi.config import SmppConfig
from envoi.sending.channels.sms import segments
from envoi.sending.channels.sms.pacing import BindSlots, SharedRate
from envoi.sending.channels.sms.render import SmsMessage

log = logging.getLogger("envoi.smpp")

ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
SLOW_DOWN = (ESME_RMSGQFUL, ESME_RTHROTTLED)
NO_ANSWER = -1  # command_status of a part that never got a submit_sm_resp

ENQUIRE_AFTER = 30.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
THROTTLE_FIRST, THROTTLE_MAX = 0.05, 1.0
THROTTLE_RETRIES = 20  # refusals of one part before the message is given back


@dataclass
class SmppReply:
    """What became of one SMS: the id of each part the SMSC took, or the status that
    refused it (``NO_ANSWER`` when no SMSC could be reached)."""

    status: int
    message_ids: list[str]
    smsc: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == ESME_ROK


@dataclass(frozen=True)
class Inbound:
    """A deliver_sm as it came in: a receipt (``esm_class`` bit 2) or a reply."""

    smsc: str
    is_receipt: bool
    source: str
    destination: str
    text: str
    message_id: str = ""
    stat: str = ""
    received_at: float = field(default_factory=time.time)


@dataclass
class _Send:
    message: SmsMessage
    replies: object
    index: int
    ids: list[str]
    remaining: int
    throttled: int = 0
    answered: bool = False

    def answer(self, reply: SmppReply) -> None:
        if not self.answered:
            self.answered = True
            self.replies.answer(self.index, reply)  # type: ignore[attr-defined]


class SmppPool:
    """The worker's SMPP sessions: ``connections`` per configured SMSC, taking
    messages from one queue."""

    def __init__(self, configs: list[SmppConfig], binds: BindSlots | None = None):
        self.jobs: queue.SimpleQueue[_Send | None] = queue.SimpleQueue()
        self.inbound: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self.binds = binds  # the cap on binds across workers, when an SMSC has one
        self.closed = threading.Event()
        self.sessions = [SmppSession(config, self, number)
                         for config in configs for number in range(config.connections)]
        for session in self.sessions:
            session.start()

    def submit(self, message: SmsMessage, replies: object, index: int) -> None:
        self.jobs.put(_Send(message, replies, index, [""] * len(message.parts),
                            len(message.parts)))

    def ready(self) -> bool:
        return any(session.allowed() and (session.bound
                                          or session.down_until <= time.monotonic())
                   for session in self.sessions)

    def drain_inbound(self) -> list[Inbound]:
        found = []
        while True:
            try:
                found.append(self.inbound.get_nowait())
            except queue.Empty:
                return found

    def close(self) -> None:
        """Answer what is outstanding, unbind, and wait for the sessions to end."""
        self.closed.set()
        for _ in self.sessions:
            self.jobs.put(None)
        for session in self.sessions:
            session.join()


class SmppSession(threading.Thread):
    def __init__(self, config: SmppConfig, pool: SmppPool, number: int):
        super().__init__(daemon=True, name=f"smpp-{config.name}-{number}")
        self.config, self.pool, self.number = config, pool, number
        self.shared = SharedRate(config) if config.rate else None
        self.client: smpplib.client.Client | None = None
        self.bound = False
        self.down_until = 0.0
        self.backoff = BACKOFF_FIRST
        self.outstanding: dict[int, tuple[_Send, int, float]] = {}  # seq -> send, part, at
        self.waiting: deque[tuple[_Send, int, float]] = deque()  # parts to send (not before)
        self.closing = False
        self.pause_until = 0.0
        self.throttle = THROTTLE_FIRST
        self.next_submit_at = 0.0
        self.last_traffic = time.monotonic()

    # -- the loop --------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not (self.closing and not self.outstanding and not self.waiting):
                if not self.allowed():
                    self._wait_for_a_bind_slot()
                    continue
                if not self._connected():
                    continue
                self._take_jobs()
                self._submit_waiting()
                # Idle, the session waits on the queue (it wakes at once for a job, so a
                # paced message leaves at its time) and only looks at the socket; when
                # closing, it waits a little for the receipts still on their way.
                self._read(0.02 if self.outstanding or self.waiting
                           else 0.2 if self.closing else 0)
                self._check_liveness()
        finally:
            self._fail_all("the session closed")
            self._disconnect(unbind=True)
            if self.shared is not None:
                self.shared.close()

    def allowed(self) -> bool:
        """Whether this session may be bound (the cap on binds across workers)."""
        binds = self.pool.binds
        return binds is None or binds.allows(self.config, self.number)

    def _wait_for_a_bind_slot(self) -> None:
        """Over the cap: hand back what this session holds, unbind, and wait (other
        sessions take the messages, or the worker stops claiming SMS rows)."""
        if self.bound:
            log.info("SMSC %s: bind slot %s given up", self.config.name, self.number)
            self._give_back("bind slot given up")
            self._disconnect(unbind=True)
        if self.pool.closed.is_set():
            self.closing = True
            return
        time.sleep(0.05)

    def _connected(self) -> bool:
        if self.bound:
            return True
        now = time.monotonic()
        if now < self.down_until and not self.closing:
            if not self._others_bound():  # nobody can send: answer rather than hold
                self._take_jobs(fail=True)
            time.sleep(min(0.05, self.down_until - now))
            return False
        try:
            self._bind()
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as error:
            log.warning("SMSC %s: cannot bind: %s", self.config.name, error)
            self._disconnect()
            self._give_back(f"cannot bind: {error}")
            self.down_until = time.monotonic() + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF_MAX)
            return False
        self.backoff = BACKOFF_FIRST
        return True

    def _others_bound(self) -> bool:
        return any(session.bound for session in self.pool.sessions if session is not self)

    def _bind(self) -> None:
        client = smpplib.client.Client(self.config.host, self.config.port,
                                       timeout=self.config.timeout,
                                       allow_unknown_opt_params=True)
        self.client = client
        client.connect()
        response = client.bind_transceiver(system_id=self.config.system_id,
                                           password=self.config.password,
                                           system_type=self.config.system_type)
        if response is None or response.status != ESME_ROK:
            status = getattr(response, "status", "no answer")
            raise smpplib.exceptions.PDUError(f"bind_transceiver refused ({status})")
        self.bound = True
        self.last_traffic = time.monotonic()
        # What was outstanding on the lost connection goes again, in order.
        for send, part, _ in sorted(self.outstanding.values(), key=lambda item: item[2]):
            self.waiting.appendleft((send, part, 0.0))
        self.outstanding.clear()

    def _take_jobs(self, *, fail: bool = False) -> None:
        """Move messages from the pool's queue into this session while the window has
        room (or, when this session cannot send, answer them as failures)."""
        while self.closing is False and (fail or len(self.outstanding) + len(self.waiting)
                                         < self.config.window):
            try:
                send = self.pool.jobs.get(timeout=0 if self.outstanding or self.waiting
                                          or fail else 0.2)
            except queue.Empty:
                return
            if send is None:
                self.closing = True
                return
            if fail:
                send.answer(SmppReply(NO_ANSWER, send.ids, self.config.name,
                                      "no SMSC session"))
                continue
            self.waiting.extend((send, part, 0.0) for part in range(len(send.message.parts)))

    def _submit_waiting(self) -> None:
        now = time.monotonic()
        while (self.waiting and len(self.outstanding) < self.config.window
               and now >= self.pause_until):
            send, part, not_before = self.waiting[0]
            if send.answered:
                self.waiting.popleft()
                continue
            if now < not_before:
                return
            if self.config.rate and now < self.next_submit_at:
                time.sleep(min(self.next_submit_at - now, 0.05))
                return
            if self.shared is not None:  # the SMSC's rate, across workers
                delay = self.shared.wait(len(self.waiting))
                if delay > 0:
                    time.sleep(min(delay, 0.05))
                    return
            self.waiting.popleft()
            pdu = self._submit(send.message, part)
            self.outstanding[pdu.sequence] = (send, part, time.monotonic())
            if self.config.rate:
                self.next_submit_at = max(now, self.next_submit_at) + 1 / self.config.rate
            now = time.monotonic()

    def _submit(self, message: SmsMessage, part: int):
        assert self.client is not None
        source_ton, source_npi = address_type(message.source)
        return self.client.send_message(
            source_addr_ton=(source_ton if self.config.source_ton is None
                             else self.config.source_ton),
            source_addr_npi=(source_npi if self.config.source_npi is None
                             else self.config.source_npi),
            source_addr=message.source.lstrip("+"),
            dest_addr_ton=1, dest_addr_npi=1,
            destination_addr=message.destination.lstrip("+"),
            esm_class=0x40 if message.concatenated else 0x00,  # UDH indicator
            data_coding=message.data_coding,
            registered_delivery=1,  # a receipt on final success or failure
            short_message=message.parts[part])

    def _read(self, wait: float) -> None:
        client = self.client
        assert client is not None
        try:
            while True:
                readable, _, _ = select.select([client._socket], [], [], wait)
                if not readable:
                    return
                self._handle(client.read_pdu())
                self.last_traffic = time.monotonic()
                if self.client is None:
                    return  # the PDU ended the session (an unbind): reconnect first
                wait = 0
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError,
                ValueError) as error:
            self._lost(f"connection lost: {error!r}")

    def _handle(self, pdu) -> None:
        command = pdu.command
        if command == "submit_sm_resp" or (command == "generic_nack"
                                           and pdu.sequence in self.outstanding):
            self._answered(pdu)
        elif command == "deliver_sm":
            self._deliver(pdu)
        elif command == "enquire_link":
            self._respond("enquire_link_resp", pdu)
        elif command == "unbind":
            self._respond("unbind_resp", pdu)
            self._lost("the SMSC unbound")

    def _answered(self, pdu) -> None:
        entry = self.outstanding.pop(pdu.sequence, None)
        if entry is None:
            return
        send, part, _ = entry
        status = int(pdu.status)
        if status == ESME_ROK:
            self.throttle = THROTTLE_FIRST
            send.ids[part] = _text(getattr(pdu, "message_id", b""))
            send.remaining -= 1
            if send.remaining == 0:
                send.answer(SmppReply(ESME_ROK, send.ids, self.config.name))
        elif status in SLOW_DOWN and send.throttled < THROTTLE_RETRIES:
            send.throttled += 1
            now = time.monotonic()
            if now >= self.pause_until:  # the window's other refusals share this pause
                self.pause_until = now + self.throttle
                self.throttle = min(self.throttle * 2, THROTTLE_MAX)
            self.waiting.appendleft((send, part, self.pause_until))
        else:
            send.answer(SmppReply(status, send.ids, self.config.name))

    def _deliver(self, pdu) -> None:
        self._respond("deliver_sm_resp", pdu)
        payload = pdu.short_message or b""
        esm_class = int(pdu.esm_class or 0)
        if esm_class & 0x40 and payload:  # a reply in parts: the text after its UDH
            payload = payload[payload[0] + 1:]
        text = segments.decode(payload, int(pdu.data_coding or 0))
        is_receipt = bool(esm_class & 0x04)
        message_id, stat = "", ""
        if is_receipt:
            message_id, stat = receipt_fields(text)
            receipted = _text(getattr(pdu, "receipted_message_id", None) or b"")
            message_id = receipted or message_id
        self.pool.inbound.put(Inbound(self.config.name, is_receipt,
                                      _text(pdu.source_addr), _text(pdu.destination_addr),
                                      text, message_id, stat))

    def _respond(self, command: str, request) -> None:
        assert self.client is not None
        response = smpplib.smpp.make_pdu(command, client=self.client)
        response.sequence = request.sequence
        self.client.send_pdu(response)

    def _check_liveness(self) -> None:
        now = time.monotonic()
        if not self.bound:
            return
        oldest = min((at for _, _, at in self.outstanding.values()), default=now)
        if now - oldest > self.config.timeout:
            self._lost(f"no answer to submit_sm in {self.config.timeout:g} s")
        elif now - self.last_traffic > ENQUIRE_AFTER:
            assert self.client is not None
            try:
                self.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=self.client))
                self.last_traffic = now
            except (OSError, smpplib.exceptions.ConnectionError) as error:
                self._lost(f"enquire_link failed: {error!r}")

    # -- failures ----------------------------------------------------------------------

    def _lost(self, why: str) -> None:
        log.warning("SMSC %s: %s", self.config.name, why)
        self._disconnect()
        self.down_until = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)

    def _held(self) -> list[_Send]:
        held = {id(send): send for send, _, _ in self.outstanding.values()}
        held.update((id(send), send) for send, _, _ in self.waiting)
        self.outstanding.clear()
        self.waiting.clear()
        return [send for send in held.values() if not send.answered]

    def _give_back(self, why: str) -> None:
        """The messages this session holds and cannot send: to another session that is
        bound (whole, as new), or answered as failures for the worker to retry."""
        others = self._others_bound() and not self.closing
        for send in self._held():
            if others:
                send.answered = True  # this copy is done; a fresh one goes to the pool
                self.pool.jobs.put(_Send(send.message, send.replies, send.index,
                                         [""] * len(send.message.parts),
                                         len(send.message.parts)))
            else:
                send.answer(SmppReply(NO_ANSWER, send.ids, self.config.name, why))

    def _fail_all(self, why: str) -> None:
        """Answer every message this session holds: it cannot send them now."""
        for send in self._held():
            send.answer(SmppReply(NO_ANSWER, send.ids, self.config.name, why))

    def _disconnect(self, *, unbind: bool = False) -> None:
        client, self.client, self.bound = self.client, None, False
        if client is None:
            return
        with contextlib.suppress(OSError, smpplib.exceptions.ConnectionError,
                                 smpplib.exceptions.PDUError):
            if unbind and client.state != "CLOSED":
                client.unbind()
        with contextlib.suppress(OSError):
            client.disconnect()


_RECEIPT = re.compile(r"\bid:(?P<id>\S+).*?\bstat:(?P<stat>[A-Z]+)", re.IGNORECASE | re.DOTALL)


def receipt_fields(text: str) -> tuple[str, str]:
    """The message id and ``stat`` of a receipt's text (SMPP 3.4 appendix B format)."""
    match = _RECEIPT.search(text)
    return (match.group("id"), match.group("stat").upper()) if match else ("", "")


def address_type(sender: str) -> tuple[int, int]:
    """TON and NPI of a sender: international number, short code, or alphanumeric."""
    digits = sender.lstrip("+")
    if digits.isdigit():
        if sender.startswith("+") or len(digits) > 8:
            return 1, 1  # international, ISDN
        return 3, 0  # network-specific: a short code
    return 5, 0  # alphanumeric


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return str(value or "")
