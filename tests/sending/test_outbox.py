"""The embedded capture server stores what it receives in the outbox table.

``transaction=True``: the server's writer thread saves through its own database
connection, which the test's transaction would hide.
"""

from __future__ import annotations

import pytest

from envoi.sending.mime import MessageSkeleton, make_message_id
from envoi.sending.models import OutboxMessage
from envoi.sending.outbox import CaptureServer, header_subject
from envoi.sending.smtp import SmtpConnection
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def outbox():
    server = CaptureServer("127.0.0.1", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def korean_message(to_addr: str) -> bytes:
    skeleton = MessageSkeleton(sender="Envoi <news@envoi.test>", has_html=True, has_text=False)
    return skeleton.build(
        to_addr=to_addr, to_name="김철수", subject="봄맞이 특별 할인 안내 — 회원님 전용 쿠폰",
        html="<p>안녕하세요</p>", text="", message_id=make_message_id("d1.r1", "envoi.test"),
        date="Mon, 02 Jun 2025 09:30:00 +0000", list_unsubscribe="<https://envoi.test/u/1>",
    )


def test_a_sent_message_lands_in_the_outbox(outbox):
    data = korean_message("kim@example.kr")

    with SmtpConnection(outbox.host, outbox.port, timeout=5) as conn:
        outcome = conn.send("bounce@envoi.test", "kim@example.kr", data)

    assert outcome.ok
    [stored] = OutboxMessage.objects.all()
    assert stored.mail_from == "bounce@envoi.test"
    assert stored.rcpt_to == ["kim@example.kr"]
    assert stored.subject == "봄맞이 특별 할인 안내 — 회원님 전용 쿠폰"
    assert bytes(stored.data) == data


def test_many_messages_over_one_connection(outbox):
    with SmtpConnection(outbox.host, outbox.port, timeout=5) as conn:
        outcomes = [conn.send("bounce@envoi.test", f"user{n}@example.kr",
                              korean_message(f"user{n}@example.kr")) for n in range(10)]

    assert all(outcome.ok for outcome in outcomes)
    assert conn.connections_opened == 1
    assert sorted(m.rcpt_to[0] for m in OutboxMessage.objects.all()) == sorted(
        f"user{n}@example.kr" for n in range(10))


def test_8bit_and_utf8_addresses_are_accepted(outbox):
    data = "Subject: 안녕하세요\r\n\r\n본문\r\n".encode()

    with SmtpConnection(outbox.host, outbox.port, timeout=5) as conn:
        assert conn.send("bounce@envoi.test", "김@example.kr", data).ok

    [stored] = OutboxMessage.objects.all()
    assert stored.rcpt_to == ["김@example.kr"]
    assert stored.subject == "안녕하세요"


def test_stop_is_idempotent_and_start_after_stop_works(outbox):
    outbox.stop()
    outbox.stop()
    outbox.start()

    with SmtpConnection(outbox.host, outbox.port, timeout=5) as conn:
        assert conn.send("bounce@envoi.test", "kim@example.kr", b"Subject: again\r\n\r\nx\r\n").ok
    assert OutboxMessage.objects.get().subject == "again"


@pytest.mark.parametrize(("data", "subject"), [
    (b"Subject: =?utf-8?b?7JWI64WV?=\r\n\r\nbody", "안녕"),
    (b"From: a@b.test\r\n\r\nno subject", ""),
    (b"not even headers", ""),
])
def test_header_subject(data, subject):
    assert header_subject(data) == subject
