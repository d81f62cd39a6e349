"""Relay pools: several SMTP relays with weights, failover, and connection caps that
hold across all workers.

``ENVOI_SMTP_URL`` lists one or more relays, separated by spaces::

    smtp://mx1.internal:25?pool=8&weight=3&max_connections=12 smtp://mx2.internal:25

A worker sends through ``pool`` *lanes* (the first relay's ``pool``): threads that each
hold one SMTP session. Lanes are shared out among the healthy relays in proportion to
their weights, never more to one relay than the connection slots this worker holds for
it (see :class:`SlotLedger`). A relay that refuses connections or times out is taken out
of rotation for a back-off period (30 s, doubling up to 5 min) and tried again after;
the message that met the failure goes at once to a lane of another relay. When no relay
is healthy, messages come back as transport failures (code 0), which the worker retries
later like any other.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from envoi.config import SmtpConfig
from envoi.ops import metrics
from envoi.sending.render import OutgoingMessage
from envoi.sending.smtp import SmtpConnection, SmtpOutcome, Submission

log = logging.getLogger("envoi.relays")

BACKOFF_FIRST, BACKOFF_MAX = 30.0, 300.0


@dataclass
class Relay:
    config: SmtpConfig
    down_until: float = 0.0
    failures: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def healthy(self, now: float) -> bool:
        return now >= self.down_until


def share_out(lanes: int, relays: list[Relay], caps: dict[str, int]) -> list[Relay | None]:
    """Give each lane a relay: proportional to weight (largest remainder), within caps."""
    counts = dict.fromkeys((relay.name for relay in relays), 0)
    for _ in range(lanes):
        open_relays = [r for r in relays if counts[r.name] < caps.get(r.name, lanes)]
        if not open_relays:
            break
        total = sum(r.config.weight for r in open_relays)
        assigned = sum(counts[r.name] for r in open_relays) + 1
        # The relay furthest below its weighted share of the lanes given so far.
        best = max(open_relays, key=lambda r: r.config.weight * assigned / total
                   - counts[r.name])
        counts[best.name] += 1
    shares: list[Relay | None] = [r for r in relays for _ in range(counts[r.name])]
    return shares + [None] * (lanes - len(shares))


class RelayPool:
    """The relays' health and the lane → relay assignment, shared by a worker's lanes."""

    def __init__(self, configs: list[SmtpConfig], lanes: int,
                 monotonic: Callable[[], float] = time.monotonic):
        self.relays = [Relay(config) for config in configs]
        self.lanes = lanes
        self.monotonic = monotonic
        # A capped relay gets no lane until the worker holds slots for it.
        self.caps = {r.name: 0 for r in self.relays if r.config.max_connections}
        self.changed = threading.Condition()
        self.assignment = share_out(lanes, self.relays, self.caps)

    def relay_for(self, lane: int) -> Relay | None:
        with self.changed:
            self._revive()
            return self.assignment[lane]

    def any_relay(self) -> bool:
        with self.changed:
            self._revive()
            return any(relay is not None for relay in self.assignment)

    def set_caps(self, caps: dict[str, int]) -> None:
        """This worker's connection slots per capped relay (see :class:`SlotLedger`)."""
        with self.changed:
            if caps != self.caps:
                self.caps = dict(caps)
                self._reassign()

    def failed(self, relay: Relay) -> None:
        with self.changed:
            if not relay.healthy(self.monotonic()):
                return  # another lane reported it already
            relay.failures += 1
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (relay.failures - 1))
            relay.down_until = self.monotonic() + backoff
            log.warning("relay %s out of rotation for %.0f s", relay.name, backoff)
            self._reassign()

    def worked(self, relay: Relay) -> None:
        if relay.failures:
            with self.changed:
                relay.failures = 0

    def wanted(self) -> dict[str, int]:
        """Lanes each healthy relay would get without caps: the slots worth asking for."""
        now = self.monotonic()
        healthy = [r for r in self.relays if r.healthy(now)]
        wanted = dict.fromkeys((r.name for r in self.relays), 0)
        for relay in share_out(self.lanes, healthy, {}):
            if relay is not None:
                wanted[relay.name] += 1
        return wanted

    def _revive(self) -> None:
        now = self.monotonic()
        if any(r.down_until and r.healthy(now) for r in self.relays):
            for relay in self.relays:
                if relay.healthy(now):
                    relay.down_until = 0.0
            self._reassign()

    def _reassign(self) -> None:
        now = self.monotonic()
        healthy = [r for r in self.relays if r.healthy(now)]
        self.assignment = share_out(self.lanes, healthy, self.caps)
        self.changed.notify_all()


class Replies:
    """The SMTP outcomes of a batch of messages, in order, as the lanes answer them.

    One lock and one event per batch: a future per message costs a condition variable
    each, ~2 % of a busy worker's CPU.
    """

    def __init__(self, count: int):
        self.outcomes: list[SmtpOutcome | None] = [None] * count
        self.relays: list[str] = [""] * count  # the relay that answered each (metrics)
        self._remaining = count
        self._lock = threading.Lock()
        self._done = threading.Event()
        if not count:
            self._done.set()

    def wait(self) -> list[SmtpOutcome]:
        """Every outcome, once the last one is in."""
        self._done.wait()
        return self.outcomes  # type: ignore[return-value]  # all set by now

    def answer(self, index: int, outcome: SmtpOutcome) -> None:
        self.outcomes[index] = outcome
        with self._lock:
            self._remaining -= 1
            if not self._remaining:
                self._done.set()


@dataclass
class _Job:
    message: OutgoingMessage
    replies: Replies
    index: int
    tried: set[str] = field(default_factory=set)
    _submission: Submission | None = None

    def answer(self, outcome: SmtpOutcome, relay: str = "") -> None:
        self.replies.relays[self.index] = relay
        self.replies.answer(self.index, outcome)

    @property
    def submission(self) -> Submission:
        """The 8bit form, or the 7-bit one if the relay lacks 8BITMIME. Made once: a
        connection that opened it behind another message knows it by identity. (Not a
        ``cached_property``, which takes a lock on every first access here.)"""
        if self._submission is None:
            message = self.message
            self._submission = Submission(message.mail_from, message.rcpt_to,
                                          message.data_8bit, transparent=True,
                                          seven_bit=message.build_7bit)
        return self._submission


class Lanes:
    """The worker's sending threads: ``submit`` hands them a message of a batch, whose
    outcomes come back through its :class:`Replies`."""

    def __init__(self, pool: RelayPool):
        self.pool = pool
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.closing = False
        self.threads = [threading.Thread(target=self._run, args=(lane,), daemon=True,
                                         name=f"smtp-{lane}") for lane in range(pool.lanes)]
        for thread in self.threads:
            thread.start()

    def submit(self, message: OutgoingMessage, replies: Replies, index: int) -> None:
        self.jobs.put(_Job(message, replies, index))

    def close(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        with self.pool.changed:
            self.closing = True
            self.pool.changed.notify_all()
        for thread in self.threads:
            thread.join()

    def _run(self, lane: int) -> None:
        """Send job after job; when the next one is already waiting, its envelope goes
        out with this one's data (:meth:`SmtpConnection.submit`)."""
        session: tuple[Relay, SmtpConnection] | None = None
        job: _Job | None = None
        try:
            while True:
                if job is None:
                    self._wait_for_relay(lane)
                    job = self.jobs.get()
                    if job is None:
                        return
                relay = self.pool.relay_for(lane)  # it may have changed while waiting
                if relay is None or relay.name in job.tried:
                    self._pass_on(job)
                    job = None
                    continue
                if session is None or session[0] is not relay:
                    self._close(session)
                    session = (relay, SmtpConnection.from_config(relay.config))
                    metrics.RELAY_CONNECTIONS.labels(relay.name).inc()
                following = self._waiting_job()
                then = (following.submission
                        if following is not None and relay.name not in following.tried
                        else None)
                outcome = session[1].submit(job.submission, then=then)
                if outcome.relay_fault:
                    self.pool.failed(relay)
                    self._close(session)
                    session = None
                    job.tried.add(relay.name)
                    self._pass_on(job, outcome)
                else:
                    self.pool.worked(relay)
                    job.answer(outcome, relay.name)
                job = following
        finally:
            self._close(session)

    def _waiting_job(self) -> _Job | None:
        """The next job if one is queued already; a stop sentinel stays queued."""
        try:
            job = self.jobs.get_nowait()
        except queue.Empty:
            return None
        if job is None:
            self.jobs.put(None)
        return job

    def _wait_for_relay(self, lane: int) -> None:
        """A lane without a relay (over this worker's slots) sleeps until it gets one.
        When no relay is usable at all, every lane goes on, answering failures."""
        with self.pool.changed:
            while (not self.closing and self.pool.relay_for(lane) is None
                   and self.pool.any_relay()):
                self.pool.changed.wait(timeout=1.0)

    def _pass_on(self, job: _Job, outcome: SmtpOutcome | None = None) -> None:
        """Hand the job to the lane of a relay it has not failed on, or, when there is
        none, answer it with the failure (the worker retries it later)."""
        now = self.pool.monotonic()
        untried = any(r.name not in job.tried and r.healthy(now) for r in self.pool.relays)
        if untried and self.pool.any_relay():
            self.jobs.put(job)
            return
        job.answer(outcome or SmtpOutcome(0, "", "no relay available", relay_fault=True))

    @staticmethod
    def _close(session: tuple[Relay, SmtpConnection] | None) -> None:
        if session is not None:
            session[1].close()
            metrics.RELAY_CONNECTIONS.labels(session[0].name).dec()


class SlotLedger:
    """Connection slots of capped relays, leased in the database (``RelaySlot``).

    The worker calls :meth:`refresh` from its loop: it renews the slots it holds and
    takes or gives back slots to match what its lanes want, then tells the pool.
    """

    def __init__(self, pool: RelayPool, holder: str, lease: timedelta):
        self.pool, self.holder, self.lease = pool, holder[:64], lease
        self.capped = {r.name: r.config.max_connections for r in pool.relays
                       if r.config.max_connections}

    def refresh(self, now: datetime) -> None:
        if not self.capped:
            return
        wanted = self.pool.wanted()
        caps = {name: self._hold(name, limit, wanted.get(name, 0), now)
                for name, limit in self.capped.items()}
        self.pool.set_caps(caps)

    def release(self) -> None:
        if self.capped:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE sending_relayslot SET holder = '', lease_until = NULL "
                               "WHERE holder = %s", [self.holder])

    def _hold(self, relay: str, limit: int, wanted: int, now: datetime) -> int:
        from envoi.sending.models import RelaySlot

        RelaySlot.objects.bulk_create([RelaySlot(relay=relay, slot=n) for n in range(limit)],
                                      ignore_conflicts=True)
        mine = RelaySlot.objects.filter(relay=relay, holder=self.holder)
        held = mine.update(lease_until=now + self.lease)
        if held > wanted:
            extra = list(mine.order_by("-slot").values_list("id", flat=True)[:held - wanted])
            RelaySlot.objects.filter(id__in=extra).update(holder="", lease_until=None)
            return wanted
        return held + self._take(relay, wanted - held, now) if held < wanted else held

    def _take(self, relay: str, count: int, now: datetime) -> int:
        lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE sending_relayslot SET holder = %s, lease_until = %s WHERE id IN ("
                f"SELECT id FROM sending_relayslot WHERE relay = %s AND (holder = '' OR "
                f"lease_until IS NULL OR lease_until < %s) ORDER BY slot LIMIT %s {lock})",
                [self.holder, now + self.lease, relay, now, count])
            return cursor.rowcount
