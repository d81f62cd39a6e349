"""Shared fixtures.

The suite runs twice (see ``scripts/test``): once on SQLite and once on PostgreSQL,
chosen by ``ENVOI_DATABASE_URL``. Tests marked ``postgres_only`` need PostgreSQL
features (SKIP LOCKED, advisory locks): they are deselected in the SQLite pass, and
skipped with a reason only when no PostgreSQL pass is configured at all.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
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
