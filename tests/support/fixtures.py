"""Pytest fixtures backed by real servers; enable with ``pytest_plugins`` in conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
