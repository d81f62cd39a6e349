"""A bounce listener on a free port for one test, taking mail for a test bounce domain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from envoi.bounces.listener import BounceListener
from envoi.bounces.qualification import admin_rules
from tests.support.smtpd import free_port

BOUNCE_DOMAIN = "bounces.shop.example.com"


@pytest.fixture(autouse=True)
def _fresh_admin_rules() -> Iterator[None]:
    """Each process keeps the administrators' rules for a while; a test's rules are
    rolled back with its database, so none may outlive it in that cache."""
    admin_rules.invalidate()
    yield
    admin_rules.invalidate()


@pytest.fixture
def bounce_domain(settings) -> str:
    settings.ENVOI_BOUNCE_DOMAIN = BOUNCE_DOMAIN
    return BOUNCE_DOMAIN


@pytest.fixture
def listener(bounce_domain) -> Iterator[BounceListener]:
    server = BounceListener("127.0.0.1", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
