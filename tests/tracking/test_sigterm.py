"""``envoi serve`` stopped with SIGTERM right after answering clicks loses none of them.

A real server process (uvicorn, the buffered shape) against the test database; clicks
over real HTTP; SIGTERM as soon as the last redirect is answered — while the flusher
still holds the young clicks — then every click must be in the tracking log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from envoi.tracking.models import TrackingEvent
from tests.support.processes import database_url
from tests.support.smtpd import free_port
from tests.tracking.conftest import Sent

CLICKS = 300


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None



def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, ENVOI_DATABASE_URL=database_url(),
               ENVOI_SECRET_KEY=settings.SECRET_KEY, ENVOI_BASE_URL=f"http://127.0.0.1:{port}")
    return subprocess.Popen([sys.executable, "-m", "envoi", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_until_serving(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            urllib.request.urlopen(f"{base}/m/proof", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("envoi serve did not start")


def click(opener, url: str) -> int:
    try:
        with opener.open(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_sigterm_right_after_the_clicks_loses_none(sent: Sent):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    paths = [url.removeprefix("http://testserver") for m in sent.messages for url in m.clicks]
    process = start_server(port)
    try:
        wait_until_serving(base, process)
        opener = urllib.request.build_opener(NoRedirect)
        statuses = [click(opener, base + paths[n % len(paths)]) for n in range(CLICKS)]
        process.send_signal(signal.SIGTERM)
        stored_before_exit = TrackingEvent.objects.count()
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert statuses == [302] * CLICKS
    assert process.returncode in (0, -signal.SIGTERM), output
    assert stored_before_exit < CLICKS, "the youngest clicks were still in the buffer"
    assert TrackingEvent.objects.filter(kind="click").count() == CLICKS, output
