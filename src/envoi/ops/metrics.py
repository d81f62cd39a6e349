"""Prometheus metrics, in the text format, through ``prometheus-client``.

Counters and histograms live in each process. ``envoi serve --workers N`` and
``envoi worker --processes N`` run several processes; there, ``PROMETHEUS_MULTIPROC_DIR``
is set before any process starts (:func:`use_multiprocess_dir`), each process writes its
values to files in it, and whoever answers ``/metrics`` adds them up.

What the database knows (queue depth, workers alive and lost) is read when the metrics
are scraped, by :class:`DatabaseCollector`, so it is the same whichever process answers.

Labels stay few: channel, relay (as configured), failure reason (a fixed vocabulary),
bounce outcome, job name. Nothing is labelled per recipient or per delivery.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: a batch of 200 takes from tens of milliseconds to a minute (rate limits).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_JOB_BUCKETS = (0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)

MESSAGES_SENT = Counter("envoi_messages_sent", "Messages the relay accepted.",
                        ["channel", "relay"])
MESSAGES_FAILED = Counter("envoi_messages_failed", "Messages that failed for good.",
                          ["channel", "relay", "reason"])
MESSAGES_RETRIED = Counter("envoi_messages_retried",
                           "Attempts that failed transiently; the message is tried again.",
                           ["channel", "relay", "reason"])
CLAIM_TO_SEND = Histogram("envoi_claim_to_send_seconds",
                          "From claiming a batch to the relay's last answer for it.",
                          buckets=_LATENCY_BUCKETS)
SEND_TO_RECORD = Histogram("envoi_send_to_record_seconds",
                           "From the relay's last answer for a batch to its outcomes recorded.",
                           buckets=_LATENCY_BUCKETS)
RELAY_CONNECTIONS = Gauge("envoi_relay_connections_open", "SMTP sessions open, by relay.",
                          ["relay"], multiprocess_mode="livesum")
RATE_LIMIT_WAITS = Counter("envoi_rate_limit_waits",
                           "Times a worker held a message back to keep to a rate limit.")
RATE_LIMIT_WAIT_SECONDS = Counter("envoi_rate_limit_wait_seconds",
                                  "Time workers spent holding messages back for rate limits.")
TRACKING_BUFFER = Gauge("envoi_tracking_buffer_events",
                        "Tracking hits received but not yet written to the database.",
                        multiprocess_mode="livesum")
TRACKING_FLUSH_LAG = Gauge("envoi_tracking_flush_lag_seconds",
                           "Age of the oldest tracking hit still waiting to be written.",
                           multiprocess_mode="livemax")
BOUNCES_RECEIVED = Counter("envoi_bounces_received", "Inbound bounce messages, by outcome.",
                           ["outcome"])
JOB_RUNS = Counter("envoi_job_runs", "Periodic job runs, by job and result.",
                   ["job", "result"])
JOB_DURATION = Histogram("envoi_job_duration_seconds", "Periodic job run time.", ["job"],
                         buckets=_JOB_BUCKETS)


def count_outcomes(channel: str, outcomes: Sequence, relays: Sequence[str]) -> None:
    """Add a recorded batch to the message counters: one increment per distinct label
    set, not per message (a batch has a handful)."""
    tally: Tally[tuple[str, str, str]] = Tally()
    for index, outcome in enumerate(outcomes):
        relay = relays[index] if index < len(relays) and relays[index] else "none"
        tally[(outcome.status, relay, outcome.failure_reason)] += 1
    for (status, relay, reason), count in tally.items():
        if status == "sent":
            MESSAGES_SENT.labels(channel, relay).inc(count)
        elif status == "failed":
            MESSAGES_FAILED.labels(channel, relay, reason or "unknown").inc(count)
        elif status == "pending":
            MESSAGES_RETRIED.labels(channel, relay, reason or "unknown").inc(count)


# -- exposition ----------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError

        from envoi.ops.queries import queue_depth, worker_counts

        try:
            pending, due = queue_depth()
            alive, lost = worker_counts()
        except DatabaseError:
            return
        queue = GaugeMetricFamily("envoi_queue_rows",
                                  "Sending-log rows of deliveries in progress still to send.",
                                  labels=["state"])
        queue.add_metric(["pending"], pending)
        queue.add_metric(["due"], due)
        yield queue
        workers = GaugeMetricFamily("envoi_workers", "Workers by heartbeat state.",
                                    labels=["state"])
        workers.add_metric(["alive"], alive)
        workers.add_metric(["lost"], lost)
        yield workers


_database = CollectorRegistry(auto_describe=False)
_database.register(DatabaseCollector())


def exposition() -> bytes:
    """Every metric of this process, or of all processes sharing the multiprocess
    directory, and the database's gauges."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        forget_exited(Path(directory))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        local = generate_latest(registry)
    else:
        local = generate_latest(REGISTRY)
    return local + generate_latest(_database)


def use_multiprocess_dir(path: Path) -> None:
    """Start a fresh multiprocess directory, for processes started after this call.

    It must be set before ``prometheus_client`` is first imported by the processes that
    write to it; the callers start those processes afterwards.
    """
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)


def forget_exited(directory: Path) -> None:
    """Drop the live gauges (open connections, tracking buffer) of processes that have
    exited: a server or worker process restarted by its supervisor leaves its files
    behind. Their counters stay: what they counted happened."""
    pids = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("gauge_live*.db")}
    for pid in pids:
        if pid.isdigit() and not process_alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tracking_buffer(depth: int, oldest: datetime | None, now: datetime) -> None:
    """The tracking buffer after a flush: hits left, and how long the oldest waits."""
    TRACKING_BUFFER.set(depth)
    TRACKING_FLUSH_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
