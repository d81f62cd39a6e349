"""Console tests: pages through Django's test client, and the browser tests' fixtures.

Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests
make between browser steps are still plain synchronous calls, hence
``DJANGO_ALLOW_ASYNC_UNSAFE``.
"""

from __future__ import annotations

import os

import pytest
from django.test import Client

from envoi.accounts.services import create_user
from envoi.sending.channels.sms.capture import CaptureSmsc
from envoi.sending.outbox import CaptureServer
from tests.support.smtpd import free_port
from tests.web.browser import browser, people  # noqa: F401  (Chromium, and its users)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery"


def signed_in(username: str, *roles: str, language: str = "en") -> Client:
    create_user(username, roles, PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def outbox(settings):
    """The embedded shape's capture server, as the relay: sent messages land in the
    console's outbox."""
    server = CaptureServer("127.0.0.1", free_port())
    server.start()
    settings.ENVOI_SMTP_URL = f"smtp://127.0.0.1:{server.port}"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smsc(settings):
    """The embedded shape's capture SMSC, as the SMSC: sent SMS land in the console's
    outbox, and it answers with delivery receipts."""
    server = CaptureSmsc("127.0.0.1", free_port())
    server.start()
    settings.ENVOI_SMPP_URL = server.url
    try:
        yield server
    finally:
        server.stop()
