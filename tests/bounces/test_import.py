"""``envoi bounces import``: an mbox file or a maildir of bounces, each applied to its
sending-log row like mail that came over SMTP; and ``envoi bounces listen``."""

from __future__ import annotations

import mailbox
import os
import smtplib
import subprocess
import sys

import pytest

from envoi.bounces.models import InboundMessage, Quarantine
from envoi.cli import main
from envoi.sending.models import SendingLog
from tests.bounces.mail import auto_reply, postfix_dsn
from tests.support.deliveries import delivery_in
from tests.support.processes import database_url
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(relay, send_all, bounce_domain):
    delivery_in("in_progress")
    send_all()
    return {m.rcpt_to[0]: m for m in relay.messages}


def bounces_of(sent) -> list[bytes]:
    gone, away = sent["ada@example.org"], sent["bob@example.net"]
    return [postfix_dsn(gone.mail_from, gone.data, "ada@example.org", "5.1.1",
                        "550 5.1.1 User unknown"),
            auto_reply("bob@example.net", away.mail_from),
            b"Subject: lunch?\r\n\r\nnot a bounce\r\n"]


@pytest.mark.parametrize("shape", ["mbox", "maildir"])
def test_import_applies_each_message(sent, tmp_path, capsys, shape):
    path = tmp_path / shape
    box = mailbox.mbox(path) if shape == "mbox" else mailbox.Maildir(path)
    for raw in bounces_of(sent):
        box.add(raw)
    box.close()
    assert main(["bounces", "import", str(path)]) == 0
    assert capsys.readouterr().out == "imported 3 messages: 2 matched, 1 unparseable\n"
    row = SendingLog.objects.get(address="ada@example.org")
    assert (row.status, row.failure_type, row.failure_reason) == ("failed", "hard",
                                                                  "user_unknown")
    assert Quarantine.objects.get(address="ada@example.org").status == "quarantined"
    assert SendingLog.objects.get(address="bob@example.net").status == "sent"
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {"import"}


def test_import_of_a_missing_file(capsys, tmp_path):
    assert main(["bounces", "import", str(tmp_path / "none.mbox")]) == 2
    assert "none.mbox" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_envoi_bounces_listen_runs_until_terminated():
    port = free_port()
    env = {**os.environ, "ENVOI_DATABASE_URL": database_url(),
           "ENVOI_BOUNCE_DOMAIN": "bounces.example.net",
           "ENVOI_BOUNCE_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "envoi", "bounces", "listen"],
                               env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == (
            f"taking bounces for @bounces.example.net on 127.0.0.1:{port}")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("", ["b-1.aaaaaaaaaaaaaaaaaaaa@bounces.example.net"],
                            b"Subject: hi\r\n\r\nhello\r\n")
        assert InboundMessage.objects.get().outcome == "unparseable"
    finally:
        process.terminate()
        assert process.wait(10) == 0
