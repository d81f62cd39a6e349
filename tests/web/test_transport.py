"""Transport and storage defaults: HTTPS settings from the base URL, the hosts served,
the console's Content-Security-Policy, the vendored Swagger UI, private data files, and
server errors logged with their traceback."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from django.test import Client

from envoi.accounts.roles import Role
from tests.support.smtpd import free_port
from tests.web.browser import csp_violations
from tests.web.conftest import signed_in

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "envoi"
VENDOR = SRC / "web" / "static" / "web" / "vendor"


def envoi_env(data_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVOI_")}
    env.update(ENVOI_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT / "src"), **variables)
    return env


def settings_under(tmp_path: Path, **variables: str) -> dict:
    """The settings Django derives from these environment variables, in a new process."""
    names = ["ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
             "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER"]
    script = ("import json, django; django.setup(); from django.conf import settings; "
              f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        env=envoi_env(tmp_path, DJANGO_SETTINGS_MODULE="envoi.settings", **variables))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_https_base_url_makes_cookies_secure_and_sends_hsts(tmp_path):
    found = settings_under(tmp_path, ENVOI_BASE_URL="https://mail.example.com",
                           ENVOI_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    assert found == {
        "ALLOWED_HOSTS": ["mail.example.com", "localhost", "127.0.0.1", "[::1]"],
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}


def test_an_http_base_url_keeps_plain_cookies(tmp_path):
    found = settings_under(tmp_path, ENVOI_BASE_URL="http://127.0.0.1:8000")
    assert found["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert not found["SESSION_COOKIE_SECURE"] and not found["CSRF_COOKIE_SECURE"]
    assert found["SECURE_HSTS_SECONDS"] == 0 and found["SECURE_PROXY_SSL_HEADER"] is None


def test_allowed_hosts_can_be_set(tmp_path):
    found = settings_under(tmp_path, ENVOI_BASE_URL="https://mail.example.com",
                           ENVOI_ALLOWED_HOSTS="mail.example.com, .internal.example")
    assert found["ALLOWED_HOSTS"] == ["mail.example.com", ".internal.example"]


def test_a_malformed_proxy_header_is_refused_by_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], capture_output=True,
        text=True, timeout=60, env=envoi_env(tmp_path, DJANGO_SETTINGS_MODULE="envoi.settings",
                                             ENVOI_PROXY_SSL_HEADER="https"))
    assert result.returncode != 0
    assert "ENVOI_PROXY_SSL_HEADER: expected 'Header-Name: value'" in result.stderr


@pytest.fixture
def served(tmp_path):
    """``envoi serve`` on a new data directory, behind an imagined TLS proxy."""
    data = tmp_path / "data"
    env = envoi_env(data, ENVOI_BASE_URL="https://mail.example.com",
                    ENVOI_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    old_umask = os.umask(0o022)  # what a service usually runs with
    try:
        subprocess.run([sys.executable, "-m", "envoi", "migrate", "--verbosity", "0"],
                       env=env, check=True, timeout=120)
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "envoi", "serve", "--port",
                                    str(port)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
    finally:
        os.umask(old_umask)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield base, data
    finally:
        process.terminate()
        process.wait(10)


def fetch(url: str, **headers: str):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_served_over_a_tls_proxy_sends_hsts_and_secure_cookies(served):
    base, _ = served
    page = fetch(f"{base}/login/", Host="mail.example.com", **{"X-Forwarded-Proto": "https"})
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "Secure" in cookie
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    stranger = fetch(f"{base}/login/", Host="attacker.example")
    assert stranger.status == 400


def test_data_files_are_readable_by_their_owner_only(served):
    base, data = served
    assert fetch(f"{base}/api/v1/deliveries", Authorization="Bearer x").status == 401
    # SQLite keeps -wal and -shm only while a connection is open: hold one.
    old_umask = os.umask(0o022)
    try:
        with closing(sqlite3.connect(data / "envoi.sqlite3")) as connection:
            connection.execute("SELECT count(*) FROM django_migrations").fetchone()
            files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()}
    finally:
        os.umask(old_umask)
    assert {"envoi.sqlite3", "envoi.sqlite3-wal", "envoi.sqlite3-shm",
            "secret_key"} <= set(files), files
    assert all(mode == 0o600 for mode in files.values()), files
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


BOOM = """
import django, os
django.setup()
from django.test import Client
from django.test.utils import override_settings
from django.urls import path

def boom(request):
    raise RuntimeError("a fault only this test raises")

urlpatterns = [path("boom/", boom)]
with override_settings(ROOT_URLCONF="__main__", ALLOWED_HOSTS=["testserver"]):
    status = Client(raise_request_exception=False).get("/boom/").status_code
print(status)
"""


def test_a_server_error_is_logged_with_its_traceback_to_stderr(tmp_path):
    result = subprocess.run([sys.executable, "-c", BOOM], capture_output=True, text=True,
                            timeout=60,
                            env=envoi_env(tmp_path, DJANGO_SETTINGS_MODULE="envoi.settings"))
    assert result.stdout.strip() == "500", result.stderr
    assert "ERROR django.request: Internal Server Error: /boom/" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: a fault only this test raises" in result.stderr


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"),
     "inline script"),
    (re.compile(r"<style\b"), "style element"),
    (re.compile(r"\sstyle=\""), "style attribute"),
    (re.compile(r"\son[a-z]+=\""), "event handler attribute"),
    (re.compile(r"javascript:"), "javascript: URL"),
]


def test_no_console_template_has_inline_script_or_style():
    templates = sorted((SRC / "web" / "templates").rglob("*.html"))
    assert len(templates) > 20
    found = [f"{path.relative_to(SRC)}: {what}" for path in templates
             for pattern, what in INLINE if pattern.search(path.read_text())]
    assert not found


# The delivery form is the one page whose policy allows inline styles (the visual
# editor's canvas): tests/web/test_content_form.py holds it to that and no more.
@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/deliveries/", "/audiences/",
                                  "/profiles/", "/outbox/", "/quarantine/", "/admin/users/",
                                  "/admin/audit/", "/login/", "/no-such-page/",
                                  "/api/v1/docs"])
def test_console_pages_send_a_strict_csp(path):
    client = Client() if path == "/login/" else signed_in("admin", *Role)
    response = client.get(path)
    assert response.status_code in (200, 404)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "object-src 'none'" in policy


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_another_origin(client):
    page = client.get("/api/v1/docs").content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/web/vendor/swagger-ui/swagger-ui-bundle.js" in references
    assert all(reference.startswith("/static/") for reference in references), references
    assert "//" not in re.sub(r'"url": "[^"]*"', "", page.split("swagger-settings")[1])


def test_the_vendored_swagger_ui_matches_its_pinned_release():
    table = (VENDOR / "README.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((VENDOR / "swagger-ui" / name).read_bytes()).hexdigest()
        assert f"`swagger-ui/{name}` | `swagger-ui-dist` | 5.35.0 | `{digest}`" in table
    assert "Apache License" in (VENDOR / "swagger-ui" / "LICENSE").read_text()


@pytest.mark.django_db(transaction=True)
def test_the_api_docs_render_under_the_csp(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        blocked = csp_violations(page)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto("/api/v1/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Envoi API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag")
        assert not blocked, blocked
        assert all(url.startswith(live_server.url) or url.startswith("data:")
                   for url in requested), requested
    finally:
        context.close()
