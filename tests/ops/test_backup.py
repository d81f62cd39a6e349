"""The backup and restore procedure of docs/OPERATIONS.md, on a running installation:
dump the database (``pg_dump``; SQLite's ``.backup``) and archive the data directory
while a worker runs, restore both into a fresh database and directory, and follow the
tracking links of messages sent before the backup."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from tests.ops.running import envoi_process, get, stop, wait_until
from tests.support.deliveries import boss
from tests.support.processes import database_url
from tests.support.scenario import parse
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db(transaction=True)

RESTORED_DB = "envoi_ops_restored"

HTML = ('<p>Hello</p><p><a href="https://shop.example.com/spring">Spring</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str) -> tuple[int, str]:
    """Status and Location of a request, redirects not followed."""
    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=10) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def sent_links(relay) -> list[tuple[str, str]]:
    """(click link, open pixel) of every message the relay received."""
    found = []
    for message in relay.messages:
        html = parse(message.data).get_body(("html",)).get_content()
        click = re.search(r'href="([^"]+/c/[^"]+)"', html).group(1)
        pixel = re.search(r'<img src="([^"]+/o/[^"]+)"', html).group(1)
        found.append((click, pixel))
    return found


def on(base: str, link: str) -> str:
    """The link, on another server (the restored one)."""
    parts = urlsplit(link)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def psql_url(name: str) -> str:
    return database_url().rsplit("/", 1)[0] + "/" + name


def test_a_restored_backup_still_verifies_and_redirects(relay, tmp_path: Path):
    data, restored_data = tmp_path / "data", tmp_path / "restored"
    data.mkdir()
    installation = {"ENVOI_DATA_DIR": str(data), "ENVOI_SECRET_KEY": "",  # key kept in data
                    "ENVOI_BASE_URL": "https://mail.example.com",
                    "ENVOI_SMTP_URL": f"smtp://127.0.0.1:{relay.port}"}
    create_profiles([{"email": f"b{i}@example.com"} for i in range(5)])
    delivery = services.create(boss(), label="backup", sender="a@example.com", subject="s",
                               html_body=HTML, text_body="Hello {{ unsubscribe_url }}",
                               audience=Audience.objects.create(name="b"),
                               approval_required=False)
    services.confirm(boss(), services.prepare(boss(), delivery))
    worker = envoi_process("worker", **installation)
    servers = []
    try:
        wait_until(lambda: SendingLog.objects.filter(delivery=delivery, status="sent")
                   .count() == 5, what="the delivery to be sent")
        assert (data / "secret_key").exists()
        # The backup, taken while the worker still runs.
        dump, archive = tmp_path / "envoi.dump", tmp_path / "envoi-data.tgz"
        back_up_database(dump)
        subprocess.run(["tar", "-C", str(data), "-czf", str(archive), "."], check=True)
    finally:
        stop(worker)

    restored_data.mkdir()
    try:
        subprocess.run(["tar", "-C", str(restored_data), "-xzf", str(archive)], check=True)
        restored_url = restore_database(dump, restored_data)
        restored = serve(servers, ENVOI_DATABASE_URL=restored_url,
                         ENVOI_DATA_DIR=str(restored_data), ENVOI_SECRET_KEY="")
        assert get(restored + "/readyz") == (200, "ready\n")
        links = sent_links(relay)
        assert len(links) == 5
        for click, pixel in links:
            assert fetch(on(restored, click)) == (302, "https://shop.example.com/spring")
            assert fetch(on(restored, pixel))[0] == 200

        # Without the data directory's key, the same database cannot verify a link.
        empty = tmp_path / "empty"
        empty.mkdir()
        keyless = serve(servers, ENVOI_DATABASE_URL=restored_url,
                        ENVOI_DATA_DIR=str(empty), ENVOI_SECRET_KEY="")
        assert fetch(on(keyless, links[0][0])) == (400, "")  # the invalid-link page
    finally:
        for server in servers:
            stop(server)
        drop_restored_database()


def back_up_database(target: Path) -> None:
    if connection.vendor == "postgresql":
        subprocess.run(["pg_dump", "--format=custom", f"--file={target}", database_url()],
                       check=True)
    else:  # a consistent copy while others write (SQLite's online backup)
        source = connection.settings_dict["NAME"]
        subprocess.run(["sqlite3", source, f".backup '{target}'"], check=True)


def restore_database(dump: Path, data: Path) -> str:
    """Restore into a fresh database; its ``ENVOI_DATABASE_URL``."""
    if connection.vendor != "postgresql":
        restored = data / "envoi.sqlite3"
        restored.write_bytes(dump.read_bytes())
        return f"sqlite:///{restored}"
    drop_restored_database()
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", RESTORED_DB], check=True)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={psql_url(RESTORED_DB)}",
                    str(dump)], check=True)
    return psql_url(RESTORED_DB)


def drop_restored_database() -> None:
    if connection.vendor == "postgresql":
        subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres",
                        RESTORED_DB], check=True)


def serve(servers: list, **env: str) -> str:
    port = free_port()
    servers.append(envoi_process("serve", "--port", str(port), **env))
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: get(base + "/healthz")[0] == 200, timeout=60, what="envoi serve")
    return base
