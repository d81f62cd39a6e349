"""Real ``envoi`` processes for the operations tests, and HTTP to their ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from django.conf import settings

from tests.support.processes import database_url


def envoi_process(*args: str, **env: str) -> subprocess.Popen:
    environment = dict(os.environ, ENVOI_DATABASE_URL=database_url(),
                       ENVOI_SECRET_KEY=settings.SECRET_KEY, ENVOI_BATCH_SIZE="10")
    environment.update(env)
    return subprocess.Popen([sys.executable, "-m", "envoi", *args], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(condition: Callable[[], object], timeout: float = 30.0,
               what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.terminate()
    return process.communicate(timeout=60)[0]


def metric(body: str, name: str) -> float:
    """The sum of every sample of ``name`` in a Prometheus text page."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))
