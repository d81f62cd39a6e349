"""Sign-in throttling per account and per address, with a back-off, shared through the
database; failed sign-ins in the audit log (never the password)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
from django.conf import global_settings, settings
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from envoi.accounts.models import AuditEntry, LoginCounter
from envoi.accounts.services import create_user
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
THROTTLED = {
    "en": "Too many failed sign-ins. Wait",
    "ko": "로그인 실패가 너무 많습니다.",
    "ja": "ログインの失敗が多すぎます。",
}


def sign_in(username: str, password: str, *, address: str = "203.0.113.7",
            language: str = "en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language, REMOTE_ADDR=address)
    return client.post("/login/", {"username": username, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_thirty_wrong_passwords_are_refused_after_the_free_ones(clock, language):
    create_user("alice", ["prepare_deliveries"], PASSWORD)
    answers = [sign_in("alice", f"guess {n}", language=language) for n in range(30)]
    free = settings.ENVOI_LOGIN_FREE_FAILURES
    assert [a.status_code for a in answers[:free + 1]] == [200] * (free + 1)
    refused = answers[free + 1:]
    assert [a.status_code for a in refused] == [429] * len(refused)
    page = refused[0].content.decode()
    assert THROTTLED[language] in page
    assert refused[0]["Retry-After"] == "1"
    # While the account waits, even the right password is refused, without being tried.
    assert sign_in("alice", PASSWORD).status_code == 429
    clock.advance(seconds=1)
    assert signed_in(sign_in("alice", PASSWORD))


def test_the_wait_doubles_with_each_failure_past_the_free_ones(clock):
    create_user("bob", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES):
        assert sign_in("bob", f"guess {n}").status_code == 200
    waits = []
    for n in range(5):
        assert sign_in("bob", f"more {n}").status_code == 200  # tried, and wrong
        waits.append(int(sign_in("bob", "meanwhile")["Retry-After"]))
        clock.advance(seconds=waits[-1])
    assert waits == [1, 2, 4, 8, 16]
    assert signed_in(sign_in("bob", PASSWORD))
    assert not LoginCounter.objects.filter(scope="account", key="bob").exists()


def test_the_wait_has_a_ceiling(clock, settings):
    settings.ENVOI_LOGIN_MAX_WAIT_SECONDS = 60
    create_user("carol", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES + 12):
        sign_in("carol", f"guess {n}")
        clock.advance(seconds=60)
    sign_in("carol", "last")
    assert sign_in("carol", PASSWORD)["Retry-After"] == "60"


def test_an_account_is_throttled_from_every_address(clock):
    create_user("dave", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES + 1):
        sign_in("dave", "wrong", address=f"198.51.100.{n}")
    assert sign_in("dave", PASSWORD, address="192.0.2.99").status_code == 429
    # Another account from those addresses is not held back.
    create_user("erin", [], PASSWORD)
    assert signed_in(sign_in("erin", PASSWORD, address="198.51.100.1"))


def test_an_address_is_throttled_for_every_account(clock):
    create_user("frank", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_ADDRESS_FREE_FAILURES + 1):
        sign_in(f"user{n}", "wrong", address="203.0.113.50")
    assert sign_in("frank", PASSWORD, address="203.0.113.50").status_code == 429
    assert signed_in(sign_in("frank", PASSWORD, address="203.0.113.51"))
    # A right password from that address later does not unlock it for the others.
    clock.advance(seconds=1)
    assert signed_in(sign_in("frank", PASSWORD, address="203.0.113.50"))
    sign_in("user0", "wrong", address="203.0.113.50")
    assert sign_in("frank", PASSWORD, address="203.0.113.50").status_code == 429


def test_the_client_address_header_of_a_trusted_proxy(clock, settings):
    settings.ENVOI_CLIENT_IP_HEADER = "X-Forwarded-For"
    create_user("gina", [], PASSWORD)
    client = Client(REMOTE_ADDR="10.0.0.1")  # the proxy
    for n in range(settings.ENVOI_LOGIN_ADDRESS_FREE_FAILURES + 1):
        client.post("/login/", {"username": f"u{n}", "password": "x"},
                    headers={"X-Forwarded-For": "spoofed, 203.0.113.9"})
    blocked = client.post("/login/", {"username": "gina", "password": PASSWORD},
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert blocked.status_code == 429
    other = client.post("/login/", {"username": "gina", "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.10"})
    assert signed_in(other)


def test_failed_sign_ins_are_audited_without_the_password(clock):
    create_user("hana", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES + 2):
        sign_in("hana", f"secret-guess-{n}")
    entries = list(AuditEntry.objects.filter(action="login.failed").order_by("id"))
    assert len(entries) == settings.ENVOI_LOGIN_FREE_FAILURES + 2
    assert all(not e.allowed for e in entries)
    assert entries[0].detail == {"username": "hana", "address": "203.0.113.7",
                                 "reason": "wrong user name or password"}
    assert entries[-1].detail == {"username": "hana", "address": "203.0.113.7",
                                  "reason": "throttled", "wait_seconds": 1}
    everything = " ".join(str(e.detail) for e in AuditEntry.objects.all())
    assert "secret-guess" not in everything
    page = Client()
    create_user("admin", ["administration"], PASSWORD)
    assert signed_in(page.post("/login/", {"username": "admin", "password": PASSWORD}))
    audit_page = page.get("/admin/audit/", {"action": "login.failed"}).content.decode()
    assert "login.failed" in audit_page


def test_every_caller_of_authenticate_is_throttled(clock):
    """Not only the console's form: any password check goes through the backend."""
    create_user("ivan", [], PASSWORD)
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.1")
    for _ in range(settings.ENVOI_LOGIN_FREE_FAILURES + 1):
        assert authenticate(request, username="ivan", password="wrong") is None
    assert authenticate(request, username="ivan", password=PASSWORD) is None
    clock.advance(seconds=1)
    assert authenticate(request, username="ivan", password=PASSWORD) is not None


def test_a_forgotten_counter_starts_over(clock):
    create_user("judy", [], PASSWORD)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES):
        sign_in("judy", f"guess {n}")
    clock.advance(hours=2)
    for n in range(settings.ENVOI_LOGIN_FREE_FAILURES):
        assert sign_in("judy", f"again {n}").status_code == 200
    assert LoginCounter.objects.get(scope="account", key="judy").failures == 5


CHILD = """
import django, os, sys
from datetime import datetime
os.environ["DJANGO_SETTINGS_MODULE"] = "envoi.settings"
django.setup()
from django.contrib.auth import authenticate
from django.test import RequestFactory
from envoi import clock
clock.set_now(datetime.fromisoformat(sys.argv[1]))
request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.77")
results = [authenticate(request, username="kim", password=p) is not None
           for p in sys.argv[2:]]
print(" ".join("ok" if r else "no" for r in results))
"""


def child_sign_ins(at: datetime, *passwords: str) -> str:
    """Sign-ins in another process, its clock stopped at ``at``."""
    env = dict(os.environ, ENVOI_DATABASE_URL=database_url(),
               ENVOI_SECRET_KEY=settings.SECRET_KEY)
    done = subprocess.run([sys.executable, "-c", CHILD, at.isoformat(), *passwords],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_the_counters_hold_across_processes(clock, settings):
    """Processes that share only the database: failures counted in one hold the account
    back in the others, until the back-off has passed."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the children's
    create_user("kim", [], PASSWORD)
    free = settings.ENVOI_LOGIN_FREE_FAILURES
    wrong = ["wrong"] * (free + 1)
    assert child_sign_ins(clock.now(), *wrong, PASSWORD) == " ".join(["no"] * (free + 2))
    assert child_sign_ins(clock.now(), PASSWORD) == "no"
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.78")
    assert authenticate(request, username="kim", password=PASSWORD) is None
    assert LoginCounter.objects.get(scope="account", key="kim").failures == free + 1
    assert child_sign_ins(clock.advance(seconds=1), PASSWORD) == "ok"


def test_a_nul_in_the_name_is_refused_not_a_crash():
    # The console's one input check refuses it before the form is read.
    assert sign_in("a\x00b", "whatever").status_code == 400
    assert authenticate(None, username="a\x00b", password="whatever") is None


@pytest.mark.django_db(transaction=True)
def test_failures_counted_at_the_same_moment_are_all_counted(clock):
    """Eight sign-ins failing at once, on a name never seen: one counter, eight
    failures (the row is created once and locked while counted)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    from envoi.accounts import throttle

    start = Barrier(8)

    def fail(n: int) -> None:
        start.wait()
        try:
            throttle.record_failure("newcomer", f"192.0.2.{n}")
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(8)))
    assert LoginCounter.objects.get(scope="account", key="newcomer").failures == 8
    assert LoginCounter.objects.filter(scope="address").count() == 8
