"""Tracking events on their way to the database: appended by requests, written in bulk.

The endpoints only :func:`record` a :class:`Hit` — an append to an in-process list —
so answering a click costs no transaction. Two shapes:

* **Buffered** (after :func:`start`; ``envoi serve`` and ``envoi demo`` start it from
  the ASGI lifespan): a flusher thread writes every ``FLUSH_SECONDS`` or as soon as
  ``FLUSH_EVENTS`` hits wait, in one transaction per batch
  (:func:`envoi.tracking.ingest.record_events`). :func:`stop` — run by the lifespan
  shutdown, which uvicorn reaches on SIGTERM/SIGINT once the requests in flight are
  answered, and by ``atexit`` — writes whatever is left, so a stopped server loses no
  event it acknowledged.
* **Write-through** (anything that never called :func:`start`: tests with Django's
  test client or ``live_server``, management commands): :func:`record` writes at once,
  in the caller's thread and transaction. :func:`flush` is harmless in both shapes and
  writes anything pending now; tests that start a buffer call it before they look.

A write that fails because the database is unreachable keeps its hits and retries
(logged); hits the database refuses for any other reason are retried one by one and
only the refused ones are dropped (logged). Clicks younger than
:data:`machine.BURST_SECONDS` wait one burst window in the buffer, so that a scanner's
first clicks are flagged together with its later ones.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from envoi.ops import metrics
from envoi.tracking import machine
from envoi.tracking.ingest import Event, record_events
from envoi.tracking.models import EventKind

log = logging.getLogger("envoi.tracking")

FLUSH_SECONDS = 0.1
FLUSH_EVENTS = 1000
RETRY_SECONDS = 1.0
STOP_SECONDS = 15.0
"""How long a stopping server keeps retrying an unreachable database before it gives up."""
MAX_PENDING = 2_000_000
"""Hits kept while the database is unreachable (~0.5 GB); beyond, the oldest are dropped
(logged) rather than the server running out of memory."""
_BURST = timedelta(seconds=machine.BURST_SECONDS)


@dataclass(frozen=True, slots=True)
class Hit:
    """A request to a tracking endpoint, as the endpoint saw it. The flush completes it
    into an :class:`Event` from the sending log — the profile, and the sending time
    that some machine rules need — reading all rows of a batch in one query, so that
    the request itself needs no database.
    """

    kind: str
    delivery_id: int
    row_id: int
    at: datetime
    link_index: int | None = None
    url: str = ""
    user_agent: str = ""
    machine: bool = False


@dataclass(frozen=True)
class _Row:
    delivery_id: int
    profile_id: int
    sent_at: datetime | None


class EventBuffer:
    def __init__(self, sink: Callable[[Sequence[Event]], None] = record_events,
                 clock: Callable[[], datetime] = timezone.now, *, buffered: bool = False):
        self.sink = sink
        self.clock = clock
        self.buffered = buffered  # False: write-through
        self._pending: list[Hit] = []
        self._lock = threading.Lock()  # guards _pending
        self._flush_lock = threading.Lock()  # one writer at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._held = 0  # young clicks put back by the last drain
        self._exit_hook = False
        self._recent_clicks: dict[int, list[tuple[datetime, int | None]]] = {}
        self._pruned_at = 0.0

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._pending.append(hit)
            full = len(self._pending) - self._held >= FLUSH_EVENTS
        if not self.buffered:
            self.flush()
        elif full:
            self._wake.set()

    def flush(self) -> bool:
        """Write every pending hit now; False when the database could not be reached."""
        return self.drain(hold_young_clicks=False)

    def start(self) -> None:
        """Switch to buffered writes by a flusher thread."""
        if self._thread is not None:
            return
        self.buffered = True
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="envoi-tracking-flush",
                                        daemon=True)
        self._thread.start()
        if not self._exit_hook:
            atexit.register(self.stop)
            self._exit_hook = True

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the flusher and write everything left, retrying until ``timeout``."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.buffered = False
        deadline = time.monotonic() + timeout
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(RETRY_SECONDS)
        if self.pending():
            log.error("tracking: %d events could not be stored before exit", self.pending())

    def forget_recent_clicks(self) -> None:
        with self._flush_lock:
            self._recent_clicks.clear()

    # -- the flusher ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if not self.drain(hold_young_clicks=True):
                self._stopping.wait(RETRY_SECONDS)
        self.flush()

    def drain(self, *, hold_young_clicks: bool) -> bool:
        """Write the pending hits (but, if asked, keep clicks younger than a burst
        window for the next drain); False when the database could not be reached."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            ready, held = self._split(batch, hold_young_clicks)
            written = 0
            try:
                for start in range(0, len(ready), FLUSH_EVENTS):
                    self._write(ready[start:start + FLUSH_EVENTS], held)
                    written = start + FLUSH_EVENTS
            except (OperationalError, InterfaceError):
                log.exception("tracking: database unreachable; %d events kept for retry",
                              len(ready) - written)
                if not connection.in_atomic_block:  # a caller's transaction is not ours
                    connection.close()
                held = _bounded(ready[written:] + held)
            with self._lock:
                self._pending[:0] = held
                self._held = len(held)
                waiting = self._pending[0].at if self._pending else None
                metrics.tracking_buffer(len(self._pending), waiting, self.clock())
            return written >= len(ready)

    def _split(self, batch: list[Hit], hold: bool) -> tuple[list[Hit], list[Hit]]:
        """(hits to write, hits younger than a burst window). Hits are appended as they
        are stamped, so the list is in time order give or take a thread switch: a
        binary search finds the cut (a hit on the wrong side is merely written a few
        milliseconds early or late). Young opens wait with the clicks: it costs nothing."""
        if not hold:
            return batch, []
        cut = bisect_right(batch, self.clock() - _BURST, key=_stamp)
        return batch[:cut], batch[cut:]

    def _write(self, hits: list[Hit], held: list[Hit]) -> None:
        try:
            self.sink(self._events(hits, held))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("tracking: a batch of %d events was refused; retrying one by one",
                          len(hits))
            self._write_one_by_one(hits, held)
        self._remember_clicks(hits)

    def _write_one_by_one(self, hits: list[Hit], held: list[Hit]) -> None:
        for hit in hits:
            try:
                self.sink(self._events([hit], held))
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                log.exception("tracking: event dropped: %r", hit)

    # -- from hits to events ----------------------------------------------------------

    def _events(self, hits: list[Hit], held: list[Hit]) -> list[Event]:
        rows = _rows({hit.row_id for hit in hits})
        clicks = self._clicks_by_message(hits, held)
        events = []
        for hit in hits:
            row = rows.get(hit.row_id)
            if row is None or row.delivery_id != hit.delivery_id:
                log.info("tracking: %s for unknown row %s ignored", hit.kind, hit.row_id)
                continue
            flagged = hit.machine or self._machine_click(hit, row, clicks)
            events.append(Event(hit.row_id, hit.delivery_id, row.profile_id, hit.kind, hit.at,
                                hit.link_index, hit.url, hit.user_agent, flagged))
        return events

    def _machine_click(self, hit: Hit, row: _Row,
                       clicks: dict[int, list[tuple[datetime, int | None]]]) -> bool:
        if hit.kind != EventKind.CLICK:
            return False
        others = [c for c in clicks.get(hit.row_id, []) if c != (hit.at, hit.link_index)]
        return (machine.too_soon_after_sending(hit.at, row.sent_at)
                or machine.in_burst(hit.at, hit.link_index, others))

    def _clicks_by_message(self, hits: list[Hit], held: list[Hit],
                           ) -> dict[int, list[tuple[datetime, int | None]]]:
        """For each message clicked in ``hits``: its clicks seen, written or not."""
        clicks = {hit.row_id: list(self._recent_clicks.get(hit.row_id, ()))
                  for hit in hits if hit.kind == EventKind.CLICK}
        for hit in hits + held:
            if hit.kind == EventKind.CLICK and hit.row_id in clicks:
                clicks[hit.row_id].append((hit.at, hit.link_index))
        return clicks

    def _remember_clicks(self, hits: list[Hit]) -> None:
        """Keep the clicks of the last few burst windows, for the clicks still to come."""
        cutoff = self.clock() - 4 * _BURST
        for hit in hits:
            if hit.kind == EventKind.CLICK and hit.at > cutoff:
                self._recent_clicks.setdefault(hit.row_id, []).append((hit.at, hit.link_index))
        if time.monotonic() - self._pruned_at > machine.BURST_SECONDS:
            self._pruned_at = time.monotonic()
            self._recent_clicks = {row: seen for row, seen in self._recent_clicks.items()
                                   if seen[-1][0] > cutoff}


def _bounded(hits: list[Hit]) -> list[Hit]:
    if len(hits) <= MAX_PENDING:
        return hits
    log.error("tracking: database unreachable too long; %d oldest events dropped",
              len(hits) - MAX_PENDING)
    return hits[-MAX_PENDING:]


def _stamp(hit: Hit) -> datetime:
    return hit.at


def _rows(row_ids: set[int]) -> dict[int, _Row]:
    from envoi.sending.models import SendingLog

    found = SendingLog.objects.filter(pk__in=row_ids).values_list(
        "id", "delivery_id", "profile_id", "sent_at")
    return {row_id: _Row(delivery, profile, sent) for row_id, delivery, profile, sent in found}


_buffer = EventBuffer()


def record(hit: Hit) -> None:
    """Queue (buffered) or store (write-through) one tracking event; never raises for
    an unreachable database: the hit then waits for the next flush."""
    _buffer.record(hit)


def buffering() -> bool:
    return _buffer.buffered


def flush() -> bool:
    return _buffer.flush()


def start() -> None:
    _buffer.start()


def stop() -> None:
    _buffer.stop()


def forget_recent_clicks() -> None:
    """For tests, whose databases hand out the same row ids again: a burst is judged
    from the clicks this process saw in the last seconds."""
    _buffer.forget_recent_clicks()
