"""Unencoded (8bit) bodies: when a body may travel as is, and that a relay without
8BITMIME still gets a 7-bit message."""

from __future__ import annotations

import pytest

from envoi.sending.mime import MAX_8BIT_LINE, MessageSkeleton, eight_bit_body, make_message_id
from envoi.sending.smtp import SmtpConnection
from tests.support.scenario import parse
from tests.support.smtpd import SmtpTestServer

HTML = '<p>안녕하세요 😀 <a href="https://envoi.test/c/1?a=1&amp;b=2">보기</a></p>\n' * 40
TEXT = "안녕하세요 고객님 😀\nこんにちは\n"


def skeleton() -> MessageSkeleton:
    return MessageSkeleton(sender="Envoi <news@envoi.test>", has_html=True, has_text=True)


def build(sk: MessageSkeleton | None = None, *, eight_bit: bool = True, **bodies: str) -> bytes:
    fields = {"html": HTML, "text": TEXT} | bodies
    return (sk or skeleton()).build(
        to_addr="kim@example.kr", to_name="김철수", subject="봄 소식",
        message_id=make_message_id("d42.r7", "bounces.envoi.test"),
        date="Mon, 02 Jun 2025 09:30:00 +0000", list_unsubscribe="<https://envoi.test/u/abc>",
        eight_bit=eight_bit, **fields)


def encodings(raw: bytes) -> list[str]:
    return [part["Content-Transfer-Encoding"] for part in parse(raw).iter_parts()]


def assert_transparent(raw: bytes) -> None:
    """What SmtpConnection.send(transparent=True) relies on, and RFC 5322 line limits."""
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r"), "bare CR or LF"
    assert raw.endswith(b"\r\n") and b"\r\n." not in raw and not raw.startswith(b".")
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_8BIT_LINE


class TestEightBitBody:
    def test_utf8_with_crlf_line_endings(self):
        assert eight_bit_body("안녕\n<p>hi</p>\n") == "안녕\r\n<p>hi</p>\r\n".encode()

    def test_crlf_written_by_the_template_is_kept_once(self):
        assert eight_bit_body("a\r\nb\nc") == b"a\r\nb\r\nc"

    def test_998_octets_fit_and_999_do_not(self):
        # Korean syllables are 3 octets in UTF-8: the limit counts octets, not characters.
        assert eight_bit_body("가" * 332 + "ab\nnext") is not None
        assert eight_bit_body("가" * 333 + "\nnext") is None
        assert eight_bit_body("a" * MAX_8BIT_LINE) is not None
        assert eight_bit_body("a" * (MAX_8BIT_LINE + 1)) is None

    @pytest.mark.parametrize("text", [
        "a\x00b",             # NUL
        "a\rb",               # bare CR
        ".starts with a dot",
        "ok\n.then a dot line",
        "From the editor",    # mbox quoting would turn it into >From
        "ok\nFrom here on",
    ])
    def test_what_a_transport_could_alter_stays_base64(self, text):
        assert eight_bit_body(text) is None

    def test_from_without_its_space_and_inner_dots_are_fine(self):
        assert eight_bit_body("From:\nFromage\na.b\n a .") is not None


class TestSkeleton:
    def test_default_is_base64_as_before(self):
        assert encodings(build(eight_bit=False)) == ["base64", "base64"]

    def test_eight_bit_parts_decode_exactly_and_stay_transparent(self):
        raw = build()
        text, html = parse(raw).iter_parts()
        assert encodings(raw) == ["8bit", "8bit"]
        assert text.get_content().replace("\r\n", "\n") == TEXT
        assert html.get_content().replace("\r\n", "\n") == HTML
        assert_transparent(raw)
        assert len(raw) < len(build(eight_bit=False))

    def test_ascii_bodies_are_7bit(self):
        raw = build(html="<p>hello</p>\n", text="hello\n")
        assert encodings(raw) == ["7bit", "7bit"]
        assert raw.isascii()

    def test_each_part_falls_back_on_its_own(self):
        raw = build(text="Thanks.\n.signature\n")
        assert encodings(raw) == ["base64", "8bit"]
        assert parse(raw).get_body(("plain",)).get_content() == "Thanks.\n.signature\n"
        assert_transparent(raw)

    def test_a_body_holding_the_boundary_is_base64(self):
        sk = skeleton()
        raw = build(sk, html=f"<p>\n--{sk.boundary}--\n</p>")
        assert encodings(raw) == ["8bit", "base64"]
        assert len(list(parse(raw).iter_parts())) == 2

    @pytest.mark.parametrize(("html", "content"), [
        ("<p>안녕</p>", "<p>안녕</p>\n"),  # a message ends with CRLF: the line is ended
        ("<p>안녕</p>\n", "<p>안녕</p>\n"),
        ("", ""),
    ])
    def test_single_part_message_ends_with_its_body(self, html, content):
        sk = MessageSkeleton(sender="news@envoi.test", has_html=True, has_text=False)
        raw = build(sk, html=html)
        assert parse(raw).get_content().replace("\r\n", "\n") == content
        assert raw.endswith(b"\r\n")


class TestRelayWithout8BitMime:
    @pytest.fixture
    def plain_relay(self, smtp_server: SmtpTestServer, monkeypatch) -> SmtpTestServer:
        handler = smtp_server._controller.handler
        offer = handler.handle_EHLO

        async def without_8bitmime(server, session, envelope, hostname, responses):
            responses = await offer(server, session, envelope, hostname, responses)
            return [line for line in responses if "8BITMIME" not in line]

        monkeypatch.setattr(handler, "handle_EHLO", without_8bitmime)
        return smtp_server

    def send(self, server: SmtpTestServer) -> bytes:
        with SmtpConnection(server.host, server.port, timeout=5) as connection:
            outcome = connection.send("b@envoi.test", "kim@x.test", build(), transparent=True,
                                      seven_bit=lambda: build(eight_bit=False))
        assert outcome.ok
        [received] = server.messages
        return received.data

    def test_gets_the_7bit_form(self, plain_relay):
        received = self.send(plain_relay)
        assert received.isascii()
        assert encodings(received) == ["base64", "base64"]
        assert "BODY=8BITMIME" not in plain_relay.messages[0].mail_options

    def test_a_relay_with_8bitmime_gets_the_8bit_form(self, smtp_server):
        received = self.send(smtp_server)
        assert encodings(received) == ["8bit", "8bit"]
        assert "BODY=8BITMIME" in smtp_server.messages[0].mail_options

