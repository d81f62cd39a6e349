"""The sending worker: one loop of claim → render → send → record, in which a batch
renders while the one before it is with the relay.

Any number of workers, on any number of hosts, share the work through the database
alone. What a crash can cost is bounded: the rows a worker had sent but not yet
recorded when it died are sent again by whoever takes over its expired lease — at
most one batch (``ENVOI_BATCH_SIZE``) per crashed worker. Those repeats carry the same
Message-ID, so receiving systems that deduplicate on it show the message once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from envoi import clock as envoi_clock
from envoi.deliveries import lifecycle
from envoi.deliveries.liquid import PERSONALIZATION_ERROR, PersonalizationError
from envoi.deliveries.models import Delivery
from envoi.ops.vitals import WorkerVitals
from envoi.reporting.jobs import JobRunner
from envoi.sending import guards, personalization, queue, ratelimit
from envoi.sending.channels import Channel, Verdict, load_channel
from envoi.sending.queue import VALIDITY_EXPIRED, ClaimedRow, Outcome
from envoi.sending.relays import Replies
from envoi.sending.wakeup import Waiter
from envoi.sql import among

log = logging.getLogger("envoi.worker")

Clock = Callable[[], datetime]

HOUSEKEEPING_INTERVAL = timedelta(seconds=1)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"


@dataclass
class Batch:
    """Claimed rows on their way: rendered, handed to the relay lanes, then recorded."""

    delivery: Delivery
    rows: list[ClaimedRow]
    messages: list[Any]  # what the delivery's channel renders (an email, an SMS)
    send_at: dict[int, datetime]  # when each row may leave (rate limits); empty: at once
    replies: Replies = field(default_factory=lambda: Replies(0))
    expired: list[Outcome] = field(default_factory=list)  # validity over: nothing to send
    unrendered: list[Outcome] = field(default_factory=list)  # failed to render: not sent
    end_of_log: bool = False  # its claim found the end of the delivery's log
    claimed_at: float = 0.0  # time.monotonic() of its claim (metrics)


class Worker:
    def __init__(self, *, worker_id: str | None = None, batch_size: int | None = None,
                 smtp_url: str | None = None, smpp_url: str | None = None,
                 clock: Clock = envoi_clock.now):
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size or settings.ENVOI_BATCH_SIZE
        self.lease = timedelta(seconds=settings.ENVOI_LEASE_SECONDS)
        # One transport per channel (envoi.sending.channels); SMS only when an SMSC is
        # configured: without one, SMS rows wait in the queue for a worker that has one.
        self.channels: dict[str, Channel] = {"email": load_channel(
            "email", smtp_url=smtp_url or settings.ENVOI_SMTP_URL,
            worker_id=self.worker_id, lease=self.lease)}
        smpp_url = settings.ENVOI_SMPP_URL if smpp_url is None else smpp_url
        if smpp_url:
            self.channels["sms"] = load_channel("sms", smpp_url=smpp_url,
                                                worker_id=self.worker_id, clock=clock,
                                                lease=self.lease)
        self.domain_limits = ratelimit.domain_limits()
        self.clock = clock
        self.renderers: dict[int, tuple[str, Any]] = {}
        self.cursor = queue.ClaimCursor()
        self.stopping = threading.Event()
        self.waiter = Waiter()
        self.jobs = JobRunner(self.worker_id)
        self.housekept_at: datetime | None = None
        self.in_flight: Batch | None = None
        self.pause_checks = personalization.PauseChecks()
        self.guards = guards.Guards()  # complaints, hard bounces, a provider's block
        self.vitals = WorkerVitals(self.worker_id, clock)  # heartbeat and metrics

    # -- the loop ---------------------------------------------------------------------

    def run(self, *, until_idle: bool = False, poll_seconds: float = 0.5) -> int:
        """Send until stopped (or, with ``until_idle``, until no work is left).

        Each turn of the loop also runs the periodic jobs that are due and that this
        worker claims (:mod:`envoi.reporting.jobs`; checked every few seconds).
        """
        processed = 0
        try:
            while not self.stopping.is_set():
                try:
                    self.jobs.tick(self.clock())
                    self.vitals.tick()
                    done = self.turn()
                    processed += done
                    if done or self.in_flight is not None:
                        continue
                    if until_idle and not self.has_work():
                        break
                    self.waiter.wait(poll_seconds, self.stopping)
                except (OperationalError, InterfaceError):
                    # The database went away (restart, failover): reconnect and go on;
                    # leases guarantee nobody else lost or doubled our rows meanwhile.
                    log.exception("database unavailable; retrying")
                    connection.close()
                    self.stopping.wait(poll_seconds * 4)
            processed += self.settle_last()
            self.finish_drained()
        finally:
            self.close()
        return processed

    def settle_last(self) -> int:
        """Record the batch still with the relay before exiting. Without a database,
        its rows are sent again once their lease ends, as after a crash."""
        try:
            return self.settle()
        except (OperationalError, InterfaceError):
            log.exception("database unavailable; the last batch's outcomes are not recorded")
            return 0

    def finish_drained(self) -> None:
        """Finish the deliveries with nothing left pending before this worker exits.

        A delivery is marked finished by the first claim that finds the end of its log.
        A worker stopped just after recording a delivery's last batch never makes that
        claim; if it was the last worker running, the delivery would stay in progress
        until another one starts.
        """
        try:
            for delivery in queue.sending_deliveries():
                lifecycle.finish_if_done(delivery.id)
        except (OperationalError, InterfaceError):
            log.warning("database unavailable; deliveries are left for the next worker")

    def has_work(self) -> bool:
        """Rows this worker could send now: due ones, and a relay to send them through."""
        return queue.has_due_work(self.clock()) and self.any_ready()

    def any_ready(self) -> bool:
        return any(channel.ready() for channel in self.channels.values())

    def run_once(self) -> int:
        """One whole turn: claim, send and record a batch per delivery in progress."""
        return self.turn() + self.settle()

    def turn(self) -> int:
        """One turn of the pipeline, per delivery in progress: claim and render the next
        batch while the previous one is still with the relay, then record that one and
        hand this one over. The rows recorded.

        The overlap keeps the renderer busy while the relay answers, and the relay busy
        while the database records. What a crash can cost stays one batch: the batch
        being rendered has not left yet, and its rows go back when their lease ends.
        """
        now = self.clock()
        self.keep_house(now)
        for channel in self.channels.values():
            channel.refresh(now)
            channel.poll(now)
        if not self.any_ready():
            # every relay is down or at its cap: leave the rows to others, or later
            return self.settle()
        recorded = 0
        deliveries = queue.sending_deliveries()
        if not deliveries:
            # The batch with the relay belongs to a delivery paused or stopped since:
            # record it now, not when some other delivery starts.
            return self.settle()
        for delivery_id, rate, channel_name, span in deliveries:
            transport = self.channels.get(channel_name)
            if transport is None or not transport.ready():
                continue  # its rows wait for a worker that can send them
            size = ratelimit.claim_size(self.batch_size, rate)
            claimed_at = time.monotonic()
            rows = self.cursor.claim(delivery_id, self.worker_id, size, now, self.lease,
                                     span)
            batch = self.prepare(delivery_id, rows) if rows else None
            recorded += self.settle()
            if batch is not None:
                batch.end_of_log, batch.claimed_at = len(rows) < size, claimed_at
                self.dispatch(batch)
            else:  # the end of its log: maybe nothing is left pending
                lifecycle.finish_if_done(delivery_id)
        return recorded

    def keep_house(self, now: datetime) -> None:
        """Start due deliveries, end the rows of stopped ones and of expired validity
        periods: at most once a second of the worker's clock (each call is a handful of
        queries; once per batch, they cost a busy worker ~3 % of its CPU and the
        database as much again). A clock that moved back always counts as due."""
        last = self.housekept_at
        if last is not None and timedelta(0) <= now - last < HOUSEKEEPING_INTERVAL:
            return
        self.housekept_at = now
        queue.release_stopped(now)
        lifecycle.start_due(now)
        for delivery_id in queue.expire_overdue(now):
            lifecycle.finish_if_done(delivery_id)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        try:
            for channel in self.channels.values():
                channel.poll(self.clock(), final=True)  # what came back while closing
        except (OperationalError, InterfaceError):
            log.warning("database unavailable; receipts are left unrecorded")
        self.vitals.stopped()

    # -- stages -----------------------------------------------------------------------

    def prepare(self, delivery_id: int, rows: list[ClaimedRow]) -> Batch:
        """The claimed rows' messages, rendered; none when the validity period is over.

        A row whose message cannot be rendered fails alone
        (:mod:`envoi.sending.personalization`); once the batch's failures pass the
        pause threshold, its remaining rows go back unrendered, for the pause to come.
        """
        delivery = Delivery.objects.get(pk=delivery_id)
        if self.expired(delivery, self.clock()):
            expired = [Outcome(row.id, "failed", "soft", VALIDITY_EXPIRED) for row in rows]
            return Batch(delivery, rows, [], {}, expired=expired)
        rows, send_at = self.pace(delivery, rows)
        try:
            renderer = self.renderer(delivery)
        except PersonalizationError as error:  # templates that no longer parse: no row can
            log.warning("delivery %s cannot be rendered: %s", delivery_id, error)
            return Batch(delivery, [], [], send_at,
                         unrendered=[_unrendered(row, error) for row in rows])
        profiles = load_profiles(row.profile_id for row in rows)
        rendered: list[ClaimedRow] = []
        messages: list[Any] = []
        unrendered: list[Outcome] = []
        for position, row in enumerate(rows):
            try:
                messages.append(renderer.render(row.id, row.address,
                                                profiles.get(row.profile_id, {}),
                                                variant=row.variant))
            except PersonalizationError as error:
                unrendered.append(_unrendered(row, error))
                if personalization.past_threshold(len(unrendered), len(messages)):
                    queue.defer([later.id for later in rows[position + 1:]])
                    break
                continue
            rendered.append(row)
        return Batch(delivery, rendered, messages, send_at, unrendered=unrendered)

    def dispatch(self, batch: Batch) -> None:
        """Hand the batch to the relay lanes (each message at its time, when paced);
        it is recorded by the next :meth:`settle`."""
        if not batch.expired:
            if self.stopping.is_set():
                queue.defer([row.id for row in batch.rows])  # stopping: give them back
                if batch.unrendered:  # failed for good: nothing to give back
                    queue.record(batch.unrendered, self.clock())
                return
            batch.replies = Replies(len(batch.messages))
            channel = self.channels[batch.delivery.channel]
            for index, (row, message) in enumerate(zip(batch.rows, batch.messages,
                                                       strict=True)):
                if batch.send_at:
                    if self.clock() - batch.send_at[row.id] > ratelimit.LATE:
                        self.respace(batch, index)  # never a burst of stale slots
                    self.wait_until(batch.send_at[row.id])
                channel.submit(message, batch.replies, index)
        self.in_flight = batch

    def settle(self) -> int:
        """Wait for the batch with the relay, record its outcomes; the rows recorded."""
        batch, self.in_flight = self.in_flight, None
        if batch is None:
            return 0
        channel = self.channels[batch.delivery.channel]
        outcomes = batch.expired or [
            self.outcome(batch.delivery, row, message, channel.verdict(reply))
            for row, message, reply in zip(batch.rows, batch.messages, batch.replies.wait(),
                                           strict=True)]
        replied_at = time.monotonic()
        every_outcome = outcomes + batch.unrendered
        queue.record(every_outcome, self.clock())
        self.vitals.batch_recorded(batch.delivery.pk, batch.delivery.channel, every_outcome,
                                   batch.replies.relays, batch.claimed_at, replied_at)
        recorded = {outcome.row_id for outcome in outcomes}
        sent = [row for row in batch.rows if row.id in recorded]
        channel.recorded(sent, outcomes, batch.messages, self.clock())
        if not batch.expired:  # complaints, hard bounces, a provider's block (SPEC §14)
            self.guards.after_batch(batch.delivery.pk, outcomes,
                                    {row.id: row.address for row in batch.rows})
        if batch.unrendered:
            self.pause_checks.after_batch(batch.delivery.pk, len(batch.unrendered),
                                          len(batch.rows), batch.unrendered[0].smtp_reply)
        if batch.end_of_log:  # maybe nothing is left pending
            lifecycle.finish_if_done(batch.delivery.pk)
        return len(sent) + len(batch.unrendered)

    def pace(self, delivery: Delivery, rows: list[ClaimedRow]
             ) -> tuple[list[ClaimedRow], dict[int, datetime]]:
        """The rows to send now, in order, and when each may leave under the rate
        limits (none: at once); rows over a domain's limit go back to the queue."""
        if not (delivery.rate_limit or self.domain_limits):
            return rows, {}
        plan = ratelimit.plan_batch(delivery.pk, delivery.rate_limit,
                                    [(row.id, row.address) for row in rows], self.clock(),
                                    self.domain_limits)
        queue.defer(plan.deferred)
        kept = sorted((row for row in rows if row.id in plan.send_at),
                      key=lambda row: plan.send_at[row.id])
        return kept, plan.send_at

    def respace(self, batch: Batch, first: int) -> None:
        rest = [(row.id, row.address) for row in batch.rows[first:]]
        batch.send_at.update(ratelimit.respace(batch.delivery.pk, batch.delivery.rate_limit,
                                               rest, self.clock(), self.domain_limits))

    def wait_until(self, moment: datetime) -> None:
        delay = (moment - self.clock()).total_seconds()
        if delay > 0:
            self.vitals.rate_limited(delay)
            time.sleep(delay)

    def renderer(self, delivery: Delivery) -> Any:
        cached = self.renderers.get(delivery.pk)
        if cached is None or cached[0] != delivery.prepared_hash:
            cached = (delivery.prepared_hash,
                      self.channels[delivery.channel].renderer(delivery))
            self.renderers[delivery.pk] = cached
        return cached[1]

    @staticmethod
    def expired(delivery: Delivery, moment: datetime) -> bool:
        return delivery.valid_until is not None and moment > delivery.valid_until

    def outcome(self, delivery: Delivery, row: ClaimedRow, message: Any,
                verdict: Verdict) -> Outcome:
        """The row's outcome from the channel's verdict: the retry and validity policy
        is the same for every channel."""
        reply_text = verdict.reply_text
        if verdict.ok:
            return Outcome(row.id, "sent", smtp_reply=reply_text,
                           message_id=verdict.message_id or message.message_id)
        if verdict.transient and row.attempts <= delivery.max_retries:
            retry_at = self.clock() + timedelta(seconds=delivery.retry_delay_seconds)
            if self.expired(delivery, retry_at):  # the retry would come too late
                return Outcome(row.id, "failed", "soft", VALIDITY_EXPIRED, reply_text)
            return Outcome(row.id, "pending", verdict.failure_type, verdict.reason,
                           reply_text, next_attempt_at=retry_at)
        return Outcome(row.id, "failed", verdict.failure_type, verdict.reason, reply_text)


def _unrendered(row: ClaimedRow, error: PersonalizationError) -> Outcome:
    """A row whose message could not be made: failed for good, with the error (field,
    line and column) where an SMTP reply would be. Retrying would fail the same way."""
    return Outcome(row.id, "failed", "soft", error.reason or PERSONALIZATION_ERROR, str(error))


PROFILE_COLUMNS = ("id", "email", "phone", "first_name", "last_name", "language", "timezone",
                   "attributes")


def load_profiles(profile_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The batch's profiles by id, in one query. Plain SQL: the ORM's per-row work
    costs a busy worker ~2 % of its CPU for the same rows."""
    from envoi.audiences.models import Profile

    ids = list(profile_ids)
    if not ids:
        return {}
    condition, params = among("id", ids)
    sql = f"SELECT {', '.join(PROFILE_COLUMNS)} FROM {Profile._meta.db_table} WHERE {condition}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    profiles = {}
    for row in rows:
        profile = dict(zip(PROFILE_COLUMNS, row, strict=True))
        attributes = profile["attributes"]
        profile["attributes"] = json.loads(attributes) if isinstance(attributes, str) else (
            attributes or {})
        profiles[profile["id"]] = profile
    return profiles


def run_in_thread(stop: threading.Event, poll_seconds: float = 0.5) -> threading.Thread:
    """The embedded shape's in-process worker."""

    def loop() -> None:
        worker = Worker()
        worker.stopping = stop
        while not stop.is_set():
            try:
                worker.run(poll_seconds=poll_seconds)
            except Exception:  # keep the embedded worker alive; the error is logged
                log.exception("worker loop failed; restarting in 2 s")
                time.sleep(2)
                worker = Worker()
                worker.stopping = stop

    thread = threading.Thread(target=loop, name="envoi-worker", daemon=True)
    thread.start()
    return thread
