"""The embedded shape takes bounces too: ``envoi demo`` starts the listener."""

from __future__ import annotations

import json
import smtplib

import pytest

from tests.support.demo import Demo

pytestmark = pytest.mark.embedded


def test_envoi_demo_listens_for_bounces(demo: Demo):
    with smtplib.SMTP("127.0.0.1", demo.bounce_port, timeout=10) as client:
        client.sendmail("", ["b-1.aaaaaaaaaaaaaaaaaaaa@127.0.0.1"],
                        b"Subject: not a bounce\r\n\r\nhello\r\n")
    status, body = demo.call("GET", "/bounces?outcome=unparseable")
    listed = json.loads(body)
    assert status == 200 and listed["count"] == 1
    assert listed["results"][0]["subject"] == "not a bounce"
