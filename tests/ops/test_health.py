"""``/healthz`` and ``/readyz`` of ``envoi serve``: unauthenticated, cheap, and a
not-ready answer is a 503 that is not logged as an error."""

from __future__ import annotations

import logging

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from envoi.ops import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_a_session_or_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_when_every_migration_is_applied(django_assert_num_queries):
    health.known_migrations()  # read from disk once per process
    with django_assert_num_queries(2):  # the table is there; its rows
        response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.content == b"ready\n"


def test_readyz_is_not_ready_while_a_migration_is_missing(caplog):
    MigrationRecorder.Migration.objects.filter(app="ops", name="0001_initial").delete()
    with caplog.at_level(logging.DEBUG):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.content.decode() == "1 migrations not applied: ops.0001_initial\n"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_healthz_refuses_other_methods():
    assert Client().post("/healthz").status_code == 405
