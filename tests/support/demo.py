"""``envoi demo`` as a real process: the embedded shape, on its own SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.smtpd import free_port


@dataclass(frozen=True)
class Demo:
    base: str
    token: str
    bounce_port: int = 0
    data_dir: str = ""
    smtp_port: int = 0

    def call(self, method: str, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.base}/api/v1{path}", method=method,
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVOI_")}
    env["ENVOI_DATA_DIR"] = str(tmp_path)
    bounce_port = free_port()
    env["ENVOI_BOUNCE_LISTEN"] = f"127.0.0.1:{bounce_port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "envoi", "demo", "--port", str(port),
         "--smtp-port", str(smtp_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        running = Demo(f"http://127.0.0.1:{port}", read_token(process), bounce_port,
                       str(tmp_path), smtp_port)
        wait_until_serving(running.base)
        yield running
    finally:
        process.terminate()
        process.wait(10)


def read_token(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        match = re.search(r"Token:\s+(\S+)", line)
        if match:
            return match.group(1)
        assert process.poll() is None, "".join(seen)
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
