"""SmtpConnection against a real SMTP server (tests/support/smtpd.py), both with and
without PIPELINING."""

from __future__ import annotations

import time

import pytest

from envoi.sending.mime import MessageSkeleton, make_message_id
from envoi.sending.smtp import (
    SmtpConnection,
    SmtpOutcome,
    Submission,
    dot_stuffed,
    enhanced_status,
)
from tests.support.smtpd import DISCONNECT, SmtpTestServer, free_port

SENDER = "bounce+d1@bounces.envoi.test"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request, smtp_server: SmtpTestServer) -> SmtpTestServer:
    smtp_server.pipelining = request.param
    return smtp_server


@pytest.fixture
def connection(server: SmtpTestServer):
    with SmtpConnection(server.host, server.port, timeout=5) as conn:
        yield conn


def message(to_addr: str = "kim@x.test", number: int = 1) -> bytes:
    skeleton = MessageSkeleton(sender="Envoi <news@envoi.test>", has_html=True, has_text=True)
    return skeleton.build(
        to_addr=to_addr, to_name="김철수", subject=f"봄 소식 {number}", html="<p>안녕</p>" * 900,
        text="안녕\n" * 300, message_id=make_message_id(f"d1.r{number}", "envoi.test"),
        date="Mon, 02 Jun 2025 09:30:00 +0000", list_unsubscribe="<https://envoi.test/u/1>",
    )


class TestOutcomes:
    def test_accepted_message_arrives_byte_for_byte(self, server, connection):
        data = message()

        outcome = connection.send(SENDER, "kim@x.test", data)

        assert outcome == SmtpOutcome(250, "2.0.0", "2.0.0 OK: queued")
        assert outcome.ok
        [received] = server.messages
        assert (received.mail_from, received.rcpt_to, received.data) == (
            SENDER, ("kim@x.test",), data)
        assert received.parsed()["Subject"] == "봄 소식 1"

    def test_unknown_user_is_a_hard_refusal_and_the_session_goes_on(self, server, connection):
        server.script("bad@x.test", "550 5.1.1 User unknown")

        refused = connection.send(SENDER, "bad@x.test", message("bad@x.test"))
        accepted = connection.send(SENDER, "kim@x.test", message())

        assert refused == SmtpOutcome(550, "5.1.1", "5.1.1 User unknown")
        assert not refused.ok
        assert accepted.ok
        assert [m.rcpt_to for m in server.messages] == [("kim@x.test",)]
        assert server.connections == 1

    @pytest.mark.parametrize("stage", ["rcpt", "data"])
    def test_mailbox_full_is_a_soft_refusal(self, server, connection, stage):
        server.script("full@x.test", "452 4.2.2 Mailbox full", at=stage)

        outcome = connection.send(SENDER, "full@x.test", message("full@x.test"))

        assert (outcome.code, outcome.enhanced, outcome.text) == (452, "4.2.2",
                                                                  "4.2.2 Mailbox full")
        assert connection.send(SENDER, "kim@x.test", message()).ok
        assert server.connections == 1

    def test_reply_without_enhanced_code(self, server, connection):
        server.script("odd@x.test", "554 Transaction failed")

        assert connection.send(SENDER, "odd@x.test", message()) == SmtpOutcome(
            554, "", "Transaction failed")

    def test_421_closes_the_session_and_the_next_send_reconnects(self, server, connection):
        server.script("busy@x.test", "421 4.7.0 Try again later", times=1)

        assert connection.send(SENDER, "busy@x.test", message()).code == 421
        assert connection.send(SENDER, "busy@x.test", message()).ok
        assert server.connections == 2



class TestNextEnvelopeWithTheData:
    """``submit(message, then=next)``: with PIPELINING, the next message's envelope goes
    out in the same write as this one's data; without, nothing changes."""

    @staticmethod
    def submission(to_addr: str, number: int = 1) -> Submission:
        return Submission(SENDER, to_addr, message(to_addr, number), transparent=True)

    def test_a_chain_of_messages_arrives_intact_on_one_connection(self, server, connection):
        chain = [self.submission(f"user{n}@x.test", n) for n in range(20)]

        outcomes = [connection.submit(sub, then=chain[n + 1] if n + 1 < len(chain) else None)
                    for n, sub in enumerate(chain)]

        assert all(outcome.ok for outcome in outcomes)
        assert [(m.rcpt_to, m.data) for m in server.messages] == [
            ((sub.rcpt_to,), sub.data) for sub in chain]
        assert server.connections == 1

    def test_a_refused_next_envelope_is_that_messages_refusal(self, server, connection):
        server.script("bad@x.test", "550 5.1.1 User unknown")
        first, refused, last = (self.submission(to) for to in (
            "kim@x.test", "bad@x.test", "lee@x.test"))

        assert connection.submit(first, then=refused).ok
        assert connection.submit(refused, then=last).code == 550
        assert connection.submit(last).ok
        assert [m.rcpt_to for m in server.messages] == [("kim@x.test",), ("lee@x.test",)]
        assert server.connections == 1

    def test_another_message_than_the_one_opened_hangs_up_first(self, server, connection):
        first, opened, other = (self.submission(to) for to in (
            "kim@x.test", "lee@x.test", "park@x.test"))

        assert connection.submit(first, then=opened).ok
        assert connection.submit(other).ok
        assert [m.rcpt_to for m in server.messages] == [("kim@x.test",), ("park@x.test",)]
        assert server.connections == 1 + server.pipelining, "a new session, when opened"

    def test_closing_with_a_transaction_open_delivers_nothing_more(self, server):
        with SmtpConnection(server.host, server.port, timeout=5) as connection:
            assert connection.submit(self.submission("kim@x.test"),
                                     then=self.submission("lee@x.test")).ok
        time.sleep(0.1)
        assert [m.rcpt_to for m in server.messages] == [("kim@x.test",)]

class TestConnection:
    def test_one_connection_carries_many_messages(self, server, connection):
        outcomes = [connection.send(SENDER, f"user{n}@x.test", message(number=n))
                    for n in range(30)]

        assert all(outcome.ok for outcome in outcomes)
        assert len(server.messages) == 30
        assert server.connections == 1
        assert connection.connections_opened == 1

    def test_server_hanging_up_mid_session_gives_code_0_then_reconnects(
        self, server, connection
    ):
        server.script("drop@x.test", DISCONNECT, times=1)
        assert connection.send(SENDER, "kim@x.test", message()).ok

        failed = connection.send(SENDER, "drop@x.test", message("drop@x.test"))
        retried = connection.send(SENDER, "drop@x.test", message("drop@x.test"))

        assert failed.code == 0
        assert not failed.ok
        assert "SMTPServerDisconnected" in failed.text
        assert retried.ok
        assert server.connections == 2

    def test_session_closed_while_idle_is_replaced_before_sending(self, server, connection):
        assert connection.send(SENDER, "kim@x.test", message()).ok
        server.drop_connections()
        time.sleep(0.1)

        assert connection.send(SENDER, "kim@x.test", message()).ok
        assert server.connections == 2

    def test_refused_connection_is_code_0(self):
        with SmtpConnection("127.0.0.1", free_port(), timeout=2) as conn:
            outcome = conn.send(SENDER, "kim@x.test", message())

        assert outcome.code == 0
        assert "ConnectionRefusedError" in outcome.text

    def test_authenticates_when_given_credentials(self):
        with SmtpTestServer(credentials=("envoi", "s3cret")) as server, SmtpConnection(
            server.host, server.port, username="envoi", password="s3cret", timeout=5
        ) as conn:
            assert conn.send(SENDER, "kim@x.test", message()).ok
            assert len(server.messages) == 1

    def test_rejected_credentials_are_a_transport_failure_not_a_bounce(self):
        with SmtpTestServer(credentials=("envoi", "s3cret")) as server, SmtpConnection(
            server.host, server.port, username="envoi", password="wrong", timeout=5
        ) as conn:
            outcome = conn.send(SENDER, "kim@x.test", message())

        assert outcome.code == 0
        assert "SMTPAuthenticationError" in outcome.text
        assert "535" in outcome.text

    def test_close_is_idempotent(self, connection):
        connection.close()
        connection.close()


class TestEnvelope:
    def test_size_is_declared(self, server, connection):
        connection.send(SENDER, "kim@x.test", message())

        [received] = server.messages
        assert any(option.startswith("SIZE=") for option in received.mail_options)
        assert "BODY=8BITMIME" not in received.mail_options

    def test_8bit_data_is_declared_8bitmime(self, server, connection):
        connection.send(SENDER, "kim@x.test", "Subject: 안녕\r\n\r\n안녕\r\n".encode())

        assert "BODY=8BITMIME" in server.messages[0].mail_options

    def test_non_ascii_recipient_uses_smtputf8(self, server, connection):
        assert connection.send(SENDER, "김@x.test", message()).ok

        assert server.messages[0].rcpt_to == ("김@x.test",)
        assert "SMTPUTF8" in server.messages[0].mail_options

    @pytest.mark.parametrize("rcpt", ["kim@x.test>\r\nRCPT TO:<evil@x.test", "kim @x.test", ""])
    def test_addresses_that_could_inject_commands_are_refused_locally(
        self, server, connection, rcpt
    ):
        outcome = connection.send(SENDER, rcpt, message())

        assert (outcome.code, outcome.enhanced) == (553, "5.1.3")
        assert server.connections == 0

    def test_lines_starting_with_a_dot_arrive_intact(self, server, connection):
        data = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend"

        assert connection.send(SENDER, "kim@x.test", data).ok
        assert server.messages[0].data == data + b"\r\n"

    def test_bare_line_feeds_are_sent_as_crlf(self, server, connection):
        assert connection.send(SENDER, "kim@x.test", b"Subject: lf\n\n.body\rline\n").ok

        assert server.messages[0].data == b"Subject: lf\r\n\r\n.body\r\nline\r\n"


class TestHelpers:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("5.1.1 User unknown", "5.1.1"), ("550 5.1.1 <x@y>: unknown", "5.1.1"),
         ("4.2.2 Mailbox full", "4.2.2"), ("2.0.0 Ok: queued as 4F", "2.0.0"),
         ("User unknown", ""), ("5.1.1.1 odd", ""), ("", "")],
    )
    def test_enhanced_status(self, text, expected):
        assert enhanced_status(text) == expected

    def test_reply_text_is_one_line_of_at_most_500_characters(self):
        outcome = SmtpOutcome.from_reply(550, "5.7.1 first line\nsecond " + "x" * 900)

        assert outcome.text.startswith("5.7.1 first line second x")
        assert len(outcome.text) == 500
        assert outcome.enhanced == "5.7.1"

    @pytest.mark.parametrize(
        ("data", "wire"),
        [(b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"), (b".a", b"..a\r\n.\r\n"),
         (b"a\nb", b"a\r\nb\r\n.\r\n"), (b"", b".\r\n"), (b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n")],
    )
    def test_dot_stuffed(self, data, wire):
        assert dot_stuffed(data) == wire
