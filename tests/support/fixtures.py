"""Pytest fixtures backed by real servers; enable with ``pytest_plugins`` in conftest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from envoi import clock as envoi_clock
from tests.support.smtpd import SmtpTestServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A fresh SMTP server on 127.0.0.1 for one test, stopped afterwards."""
    server = SmtpTestServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ControlledClock:
    """Envoi's clock, stopped; tests move it with :meth:`set` and :meth:`advance`."""

    def __init__(self, start: datetime):
        envoi_clock.set_now(start)

    def now(self) -> datetime:
        return envoi_clock.now()

    def set(self, moment: datetime) -> datetime:
        envoi_clock.set_now(moment)
        return moment

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        return envoi_clock.advance(timedelta(**delta))


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    """Envoi's clock stopped at 2026-01-05 09:00 UTC (a Monday) for one test."""
    controlled = ControlledClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    try:
        yield controlled
    finally:
        envoi_clock.set_now(None)
