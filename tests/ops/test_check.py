"""``envoi check``: one verdict per line; ``--deploy`` exits 1 on anything unsafe. It
fails on the demo's configuration and passes on a production one (PostgreSQL, a strong
shared key, https, a relay that answers EHLO with 8BITMIME and PIPELINING)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.translation import override

from envoi.ops.check import ERROR, OK, UNSAFE, WARNING, Plan, failed, run_checks
from envoi.ops.models import WorkerHeartbeat
from tests.ops.running import envoi_process
from tests.support.processes import database_url
from tests.support.smtpd import SmtpTestServer, free_port

STRONG_KEY = secrets.token_urlsafe(48)


def verdicts(findings, topic_start: str) -> list[tuple[str, str]]:
    return [(f.verdict, f.message) for f in findings if f.topic.startswith(topic_start)]


@pytest.fixture
def production(settings, relay, monkeypatch):
    """In-process settings as a production host would have them."""
    monkeypatch.setenv("ENVOI_SECRET_KEY", STRONG_KEY)
    settings.SECRET_KEY = STRONG_KEY
    settings.ENVOI_BASE_URL = "https://mail.example.com"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.DEBUG = False
    return settings


# -- the whole command, as an operator runs it -----------------------------------------


@pytest.mark.embedded
def test_deploy_fails_on_the_demo_configuration(demo):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVOI_")}
    env.update(ENVOI_DATA_DIR=demo.data_dir, ENVOI_BASE_URL=demo.base,
               ENVOI_SMTP_URL=f"smtp://127.0.0.1:{demo.smtp_port}")
    run = subprocess.run([sys.executable, "-m", "envoi", "check", "--deploy"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    unsafe = [line.split()[1] for line in lines if line.startswith("unsafe")]
    assert unsafe == ["database", "secret", "https", "https"], run.stdout
    # The demo's capture outbox is reached; it does without PIPELINING, which only warns.
    assert f"warning  relay 127.0.0.1:{demo.smtp_port}  reached, but without PIPELINING" in (
        run.stdout)
    assert lines[-1] == "Not ready for production."
    # Without --deploy the same installation works: nothing is an error.
    run = subprocess.run([sys.executable, "-m", "envoi", "check"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.embedded
def test_the_demo_answers_health_and_metrics_over_http(demo):
    from tests.ops.running import get

    assert get(demo.base + "/healthz") == (200, "ok\n")
    assert get(demo.base + "/readyz") == (200, "ready\n")
    status, body = get(demo.base + "/metrics")  # from loopback
    assert status == 200 and "# TYPE envoi_messages_sent_total counter" in body


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_deploy_passes_on_a_production_configuration(relay):
    process = envoi_process("check", "--deploy", "--workers", "8", "--servers", "2",
                            ENVOI_SECRET_KEY=STRONG_KEY,
                            ENVOI_BASE_URL="https://mail.example.com",
                            ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
                            ENVOI_DATABASE_URL=database_url())
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output
    lines = output.splitlines()
    assert all(line.split()[0] == "ok" for line in lines[:-1]), output
    assert (f"relay 127.0.0.1:{relay.port}  reached (EHLO: 8BITMIME yes, PIPELINING yes, "
            "STARTTLS no)") in output
    assert "synchronous_commit is on" in output
    assert "8 workers and 2 servers need up to 22 of" in output
    assert lines[-1] == "Ready for production."


@pytest.mark.django_db
def test_findings_speak_the_readers_language(relay):
    process = envoi_process("check", "--language", "ko",
                            ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}")
    output = process.communicate(timeout=120)[0]
    [line] = [line for line in output.splitlines() if f"릴레이 127.0.0.1:{relay.port}" in line]
    assert line.startswith("정상 "), output
    assert "8BITMIME 있음, PIPELINING 있음, STARTTLS 없음" in output
    process = envoi_process("check", "--deploy", ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
                            ENVOI_BASE_URL="http://127.0.0.1:8000", LANG="ja_JP.UTF-8")
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 1
    assert "危険" in output and output.splitlines()[-1] == "本番環境の準備ができていません。"


# -- each line ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unreachable_relay_is_an_error_even_without_deploy(production):
    production.ENVOI_SMTP_URL = f"smtp://127.0.0.1:{free_port()}"
    findings = run_checks(Plan())
    [(verdict, message)] = verdicts(findings, "relay")
    assert verdict == ERROR and message.startswith("cannot be reached or refused the session")
    assert failed(findings, deploy=False)


@pytest.mark.django_db
def test_a_relay_without_pipelining_is_a_warning(production):
    with SmtpTestServer(pipelining=False) as slow:
        production.ENVOI_SMTP_URL = f"smtp://127.0.0.1:{slow.port}"
        findings = run_checks(Plan())
    assert verdicts(findings, "relay") == [(WARNING, (
        "reached, but without PIPELINING: sending is slower "
        "(EHLO: 8BITMIME yes, PIPELINING no, STARTTLS no)"))]


@pytest.mark.django_db
def test_starttls_asked_but_not_offered_is_an_error(production, relay):
    production.ENVOI_SMTP_URL = f"smtp://127.0.0.1:{relay.port}?starttls=1"
    [(verdict, message)] = verdicts(run_checks(Plan()), "relay")
    assert verdict == ERROR and "does not offer STARTTLS" in message


@pytest.mark.django_db
def test_a_remote_relay_in_clear_text_is_unsafe(production):
    from envoi.config import smtp_from_url
    from envoi.ops.check import check_relay, on_loopback

    assert on_loopback("127.0.0.1") and on_loopback("::1") and not on_loopback("10.0.0.5")
    # A relay on this host's own non-loopback address: reached, but not on loopback.
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no non-loopback address")
    with SmtpTestServer(host=address) as remote:
        [finding] = check_relay(smtp_from_url(f"smtp://{address}:{remote.port}"))
    assert finding.verdict == UNSAFE and "unencrypted" in finding.message


def non_loopback_address() -> str | None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["secret", "django-insecure-abcdefghijklmnopqrstuvwxyz123456",
                                 "a" * 64, "short-but-random-Xq9"])
def test_weak_keys_are_unsafe(production, monkeypatch, key):
    monkeypatch.setenv("ENVOI_SECRET_KEY", key)
    [(verdict, message)] = verdicts(run_checks(Plan()), "secret")
    assert verdict == UNSAFE and message.startswith("ENVOI_SECRET_KEY is too weak")


@pytest.mark.django_db
def test_a_worker_with_another_key_is_unsafe(production):
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="mx2:7:1", host="mx2", pid=7, version="0.1.0",
                                   started_at=now, last_seen_at=now,
                                   key_fingerprint="0123456789abcdef")
    WorkerHeartbeat.objects.create(worker_id="old:8:1", host="old", pid=8, version="0.1.0",
                                   started_at=now, last_seen_at=now - timedelta(hours=1),
                                   key_fingerprint="fedcba9876543210")  # lost: not counted
    assert verdicts(run_checks(Plan()), "secret") == [
        (OK, "ENVOI_SECRET_KEY is set and strong"),
        (UNSAFE, "workers on mx2 sign with another ENVOI_SECRET_KEY than this host")]


@pytest.mark.django_db
def test_http_and_insecure_cookies_are_unsafe(production):
    production.ENVOI_BASE_URL = "http://mail.example.com"
    production.SESSION_COOKIE_SECURE = False
    found = verdicts(run_checks(Plan()), "https")
    assert [verdict for verdict, _ in found] == [UNSAFE, UNSAFE]
    assert "SESSION_COOKIE_SECURE off" in found[1][1]


@pytest.mark.django_db
def test_debug_and_bad_settings_are_named(production):
    production.DEBUG = True
    production.ENVOI_METRICS_ALLOW = "localhost"
    found = verdicts(run_checks(Plan()), "configuration")
    assert found == [(ERROR, "ENVOI_METRICS_ALLOW is not valid: ENVOI_METRICS_ALLOW: "
                             "'localhost' is not an address or a network (e.g. 10.0.0.0/8)")]
    production.ENVOI_METRICS_ALLOW = "127.0.0.1"
    assert verdicts(run_checks(Plan()), "configuration")[0][0] == UNSAFE


@pytest.mark.django_db
def test_sqlite_is_unsafe_for_production(production, on_postgres):
    found = verdicts(run_checks(Plan()), "database")
    if on_postgres:
        assert [verdict for verdict, _ in found] == [OK, OK]
    else:
        assert found[0][0] == UNSAFE and found[0][1].startswith("SQLite serves")


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_postgres_settings_that_lose_or_refuse_work_are_unsafe(production):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    found = verdicts(run_checks(Plan(workers=200, servers=4)), "database")
    assert [verdict for verdict, _ in found] == [UNSAFE, UNSAFE]
    assert found[0][1].startswith("synchronous_commit is off")
    assert found[1][1].startswith("200 workers and 4 servers need up to 412 connections")


@pytest.mark.django_db
def test_the_clock_agrees_with_the_database(production):
    [(verdict, message)] = verdicts(run_checks(Plan()), "clock")
    assert verdict == OK and message.startswith("host and database agree")


def test_findings_are_translated():
    from envoi.ops.check import VERDICTS

    with override("ja"):
        assert [str(VERDICTS[v]) for v in (OK, WARNING, UNSAFE, ERROR)] == [
            "正常", "警告", "危険", "エラー"]


def test_an_unreachable_database_is_said_in_one_line_not_a_traceback(relay):
    unreachable = f"postgresql://envoi@127.0.0.1:{free_port()}/envoi"
    process = envoi_process("check", ENVOI_DATABASE_URL=unreachable,
                            ENVOI_SMTP_URL=f"smtp://127.0.0.1:{relay.port}")
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 1
    [line] = [line for line in output.splitlines() if " database " in line]
    assert line.startswith("error    database") and "database unreachable: " in line
    assert "Traceback" not in output
    process = envoi_process("workers", ENVOI_DATABASE_URL=unreachable)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 2
    assert output.startswith("envoi: database unreachable: ") and "Traceback" not in output
