"""The one clock of Envoi: every decision that depends on the time asks :func:`now`.

Schedules, validity periods, retries, quarantine releases and periodic jobs all read
this clock, so a test can move time forward (days, a DST change) and watch what
happens without sleeping. In production nothing sets it and it is Django's
``timezone.now()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_lock = threading.Lock()
_fixed: datetime | None = None


def now() -> datetime:
    """The current instant (aware, UTC), or the instant a test set."""
    fixed = _fixed
    return fixed if fixed is not None else timezone.now()


def set_now(moment: datetime | None) -> None:
    """Stop the clock at ``moment`` (aware); ``None`` gives back the real time."""
    global _fixed
    if moment is not None and timezone.is_naive(moment):
        raise ValueError("the clock needs an aware datetime")
    with _lock:
        _fixed = moment


def advance(delta: timedelta) -> datetime:
    """Move a stopped clock forward by ``delta`` and return the new instant."""
    global _fixed
    with _lock:
        if _fixed is None:
            raise RuntimeError("advance() needs a clock stopped with set_now()")
        _fixed = _fixed + delta
        return _fixed


@contextmanager
def stopped_at(moment: datetime) -> Iterator[None]:
    """Run a block with the clock stopped at ``moment``, then give back real time."""
    set_now(moment)
    try:
        yield
    finally:
        set_now(None)
