"""Shared fixtures.

The suite runs twice (see ``scripts/test``): once on SQLite and once on PostgreSQL,
chosen by ``ENVOI_DATABASE_URL``. Tests marked ``embedded`` start ``envoi demo``, which
always uses its own SQLite file, so they run in the SQLite pass only. Tests marked
``postgres_only`` need PostgreSQL features (SKIP LOCKED, advisory locks): they are
deselected in the SQLite pass, and skipped with a reason only when no PostgreSQL pass is
configured at all.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.utils import translation

pytest_plugins = ["tests.support.fixtures", "tests.support.demo"]


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        # The embedded shape ignores the pass's database: running it twice proves nothing.
        embedded = [item for item in items if item.get_closest_marker("embedded")]
        config.hook.pytest_deselected(items=embedded)
        items[:] = [item for item in items if item not in embedded]
        return
    pg_only = [item for item in items if item.get_closest_marker("postgres_only")]
    if not pg_only:
        return
    if os.environ.get("ENVOI_TEST_POSTGRES"):
        # The PostgreSQL pass runs them; here they are simply not collected.
        config.hook.pytest_deselected(items=pg_only)
        items[:] = [item for item in items if item not in pg_only]
    else:
        reason = "needs PostgreSQL: set ENVOI_TEST_POSTGRES=1 (scripts/test does)"
        for item in pg_only:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"



@pytest.fixture(autouse=True)
def _each_test_starts_in_english():
    """A language activated by one test (a request, a ``translation.override`` left
    open) must not decide the language of the next one's messages."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _links_point_at_the_test_client(settings):
    settings.ENVOI_BASE_URL = "http://testserver"


@pytest.fixture(autouse=True)
def _consent_not_required_unless_asked(settings):
    """Tests of sending create profiles without consent records; the consent tests
    (tests/consent) turn ENVOI_REQUIRE_CONSENT back on."""
    settings.ENVOI_REQUIRE_CONSENT = False


@pytest.fixture
def relay(smtp_server, settings):
    """The real SMTP server of the test, configured as Envoi's relay."""
    settings.ENVOI_SMTP_URL = f"smtp://127.0.0.1:{smtp_server.port}"
    return smtp_server


@pytest.fixture
def send_all(relay):
    """Run a worker in this process until nothing is left to send now."""
    from envoi.sending.worker import Worker

    def run(**options) -> int:
        return Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", **options).run(
            until_idle=True)

    return run
