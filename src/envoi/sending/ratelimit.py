"""Rate limits that hold across every worker: per delivery and per recipient domain.

Each limit is a row in the database holding the *next free instant* of the generic cell
rate algorithm (GCRA). A worker about to send ``n`` messages under a limit of ``r``
per second reserves ``n`` consecutive slots in one short transaction::

    start = max(next_free_at, now);  next_free_at = start + n / r

and sends message ``i`` no earlier than ``start + i / r``. Reservations of different
workers never overlap, so over any window the messages sent stay within ``r`` per
second plus one message; there is no burst allowance to overshoot with. A worker that
dies after reserving only leaves its slots unused.

A worker reserves at most :data:`HORIZON` seconds of sending at a time, so a rate-limited
delivery is claimed in small batches and a SIGTERM is never kept waiting long.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from envoi.sending.models import RateBucket

HORIZON = 1.0  # seconds of sending reserved at a time


def parse_domain_limits(text: str) -> dict[str, float]:
    """``"gmail.com=50 naver.com=20"`` (spaces or commas) → ``{"gmail.com": 50.0, ...}``."""
    limits: dict[str, float] = {}
    for item in text.replace(",", " ").split():
        domain, _, rate = item.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = 0.0
        if not domain or not math.isfinite(value) or value <= 0:
            raise ValueError(f"ENVOI_DOMAIN_RATE_LIMITS: {item!r} is not domain=messages "
                             f"per second")
        limits[domain.lower()] = value
    return limits


def domain_limits() -> dict[str, float]:
    return parse_domain_limits(settings.ENVOI_DOMAIN_RATE_LIMITS)


def claim_size(batch_size: int, rate: float) -> int:
    """Rows to claim for a delivery limited to ``rate`` per second (0: no limit)."""
    if rate <= 0:
        return batch_size
    return max(1, min(batch_size, math.ceil(rate * HORIZON)))


def reserve(key: str, rate: float, count: int, now: datetime) -> datetime:
    """Reserve ``count`` slots of the limit ``key``; the instant the first may be sent."""
    span = timedelta(seconds=count / rate)
    with transaction.atomic():
        bucket = RateBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            bucket = _new_bucket(key, now)
        start = max(bucket.next_free_at, now)
        RateBucket.objects.filter(pk=bucket.pk).update(next_free_at=start + span)
    return start


def _new_bucket(key: str, now: datetime) -> RateBucket:
    try:
        with transaction.atomic():
            return RateBucket.objects.create(key=key, next_free_at=now)
    except IntegrityError:  # another worker created it first
        return RateBucket.objects.select_for_update().get(key=key)


@dataclass(frozen=True)
class Plan:
    """When each message of a batch may leave, and which must wait for a later batch."""

    send_at: dict[int, datetime]  # row id -> earliest instant
    deferred: list[int]  # row ids beyond this batch's horizon


def plan_batch(delivery_id: int, rate: float, rows: Sequence[tuple[int, str]],
               now: datetime, limits: dict[str, float] | None = None) -> Plan:
    """Reserve slots for ``rows`` (row id, address) under the delivery's ``rate`` and
    the recipient-domain limits. A message under both waits for the later of its two
    slots. Rows of a limited domain beyond :data:`HORIZON` are deferred unreserved."""
    limits = domain_limits() if limits is None else limits
    by_domain: dict[str, list[int]] = defaultdict(list)
    send_at = {row_id: now for row_id, _ in rows}
    deferred: list[int] = []
    for row_id, address in rows:
        by_domain[address.rpartition("@")[2].lower()].append(row_id)
    for domain, ids in by_domain.items():
        domain_rate = limits.get(domain, 0.0)
        if domain_rate <= 0:
            continue
        fits = claim_size(len(ids), domain_rate)
        deferred.extend(ids[fits:])
        _spread(send_at, ids[:fits], f"domain:{domain}", domain_rate, now)
    if rate > 0:
        waiting = set(deferred)
        kept = [row_id for row_id, _ in rows if row_id not in waiting]
        _spread(send_at, kept, f"delivery:{delivery_id}", rate, now)
    for row_id in deferred:
        send_at.pop(row_id)
    return Plan(send_at, deferred)


LATE = timedelta(milliseconds=50)
"""How late a message may leave on its reserved slot. A later one (a worker that woke
late, on a busy machine) would leave in a burst with the slots after it, so the rest of
its batch takes fresh slots instead (:func:`respace`); the stale ones go unused."""


def respace(delivery_id: int, rate: float, rows: Sequence[tuple[int, str]], now: datetime,
            limits: dict[str, float]) -> dict[int, datetime]:
    """Fresh slots for rows already rendered whose reserved ones went by: under the
    delivery's rate and the recipient-domain limits, none deferred."""
    send_at = {row_id: now for row_id, _ in rows}
    by_domain: dict[str, list[int]] = defaultdict(list)
    for row_id, address in rows:
        by_domain[address.rpartition("@")[2].lower()].append(row_id)
    for domain, ids in by_domain.items():
        if limits.get(domain, 0.0) > 0:
            _spread(send_at, ids, f"domain:{domain}", limits[domain], now)
    if rate > 0:
        _spread(send_at, [row_id for row_id, _ in rows], f"delivery:{delivery_id}", rate, now)
    return send_at


def _spread(send_at: dict[int, datetime], ids: list[int], key: str, rate: float,
            now: datetime) -> None:
    if not ids:
        return
    start = reserve(key, rate, len(ids), now)
    for index, row_id in enumerate(ids):
        send_at[row_id] = max(send_at[row_id], start + timedelta(seconds=index / rate))
