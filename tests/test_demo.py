"""The first README command's shape: ``envoi demo`` as a real process, driven over HTTP.

It always runs embedded (its own SQLite file), whatever database this test pass uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from email import message_from_bytes, policy

from tests.support.smtpd import free_port


def call(base: str, token: str, method: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{base}/api/v1{path}", method=method,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_demo_sends_into_its_outbox(tmp_path):
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVOI_")}
    env["ENVOI_DATA_DIR"] = str(tmp_path)
    demo = subprocess.Popen(
        [sys.executable, "-m", "envoi", "demo", "--port", str(port),
         "--smtp-port", str(smtp_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token = read_token(demo)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base)
        for action in ("prepare", "approve", "confirm"):
            status, body = call(base, token, "POST", f"/deliveries/1/{action}")
            assert status == 200, body
        delivery = wait_for_status(base, token, "finished")
        assert delivery["counts"]["sent"] == 3, delivery
        assert delivery["counts"]["exclusions"] == {"duplicate": 1, "address_invalid": 1}
        _, listing = call(base, token, "GET", "/outbox")
        messages = json.loads(listing)
        assert len(messages) == 3
        _, raw = call(base, token, "GET", f"/outbox/{messages[0]['id']}/raw")
        parsed = message_from_bytes(raw, policy=policy.default)
        assert "봄맞이" in parsed["Subject"]
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    finally:
        demo.terminate()
        demo.wait(10)


def read_token(demo: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    assert demo.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        seen.append(line)
        match = re.search(r"Token:\s+(\S+)", line)
        if match:
            return match.group(1)
        assert demo.poll() is None, "".join(seen)
    raise AssertionError("no token printed:\n" + "".join(seen))


def wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("envoi demo did not start serving")


def wait_for_status(base: str, token: str, wanted: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, body = call(base, token, "GET", "/deliveries/1")
        delivery = json.loads(body)
        if delivery["status"] == wanted:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery stayed {delivery['status']}")
