"""The first README command's shape: ``envoi demo`` as a real process, driven over HTTP."""

from __future__ import annotations

import json
import time
from email import message_from_bytes, policy

import pytest

from tests.support.demo import Demo

pytestmark = pytest.mark.embedded


def test_demo_sends_into_its_outbox(demo: Demo):
    for action in ("prepare", "approve", "confirm"):
        status, body = demo.call("POST", f"/deliveries/1/{action}")
        assert status == 200, body
    delivery = wait_for_status(demo, "finished")
    assert delivery["counts"]["sent"] == 3, delivery
    assert delivery["counts"]["exclusions"] == {"duplicate": 1, "address_invalid": 1}
    _, listing = demo.call("GET", "/outbox")
    messages = json.loads(listing)
    assert len(messages) == 3
    _, raw = demo.call("GET", f"/outbox/{messages[0]['id']}/raw")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "봄맞이" in parsed["Subject"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def wait_for_status(demo: Demo, wanted: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, body = demo.call("GET", "/deliveries/1")
        delivery = json.loads(body)
        if delivery["status"] == wanted:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery stayed {delivery['status']}")
