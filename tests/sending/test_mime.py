"""Messages from the skeleton, read back by the standard library's RFC 5322 parser."""

from __future__ import annotations

import base64
import email
import email.header
import email.utils
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import compat32
from email.policy import default as default_policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envoi.sending.mime import (
    HeaderValueError,
    MessageSkeleton,
    encode_header_value,
    format_date,
    format_mailbox,
    make_message_id,
    parse_mailbox,
)

KOREAN_SUBJECT = (
    "🎉 봄맞이 특별 할인! 지금 바로 확인하세요 — 회원님만을 위한 최대 70% 할인 쿠폰이 "
    "도착했습니다. 이번 주 일요일까지만 사용할 수 있어요"
)
JAPANESE_SUBJECT = (
    "【期間限定】春の特別セール開催中！会員様だけの最大70%オフクーポンをお届けします。"
    "今週日曜日まで有効です"
)
HTML = '<p>안녕하세요 😀 <a href="https://envoi.test/c/1?a=1&amp;b=2">보기</a></p>\n' * 40
TEXT = "안녕하세요 고객님 😀\n.a line that starts with a dot\nこんにちは\n"
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
ENCODED_WORD = re.compile(rb"=\?utf-8\?b\?[A-Za-z0-9+/=]*\?=")


def skeleton(**overrides) -> MessageSkeleton:
    options = {"sender": "Envoi <news@envoi.test>", "has_html": True, "has_text": True}
    return MessageSkeleton(**(options | overrides))


def build(sk: MessageSkeleton | None = None, **overrides) -> bytes:
    fields = {
        "to_addr": "kim@example.kr",
        "to_name": "김철수",
        "subject": "Hello",
        "html": HTML,
        "text": TEXT,
        "message_id": make_message_id("d42.r7", "bounces.envoi.test"),
        "date": "Mon, 02 Jun 2025 09:30:00 +0000",
        "list_unsubscribe": "<https://envoi.test/u/abc>, <mailto:unsubscribe+abc@envoi.test>",
    }
    return (sk or skeleton()).build(**(fields | overrides))


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def display_name(raw: bytes) -> str:
    """The To display name decoded per RFC 2047 6.2, which drops the whitespace between
    adjacent encoded words.

    Python 3.11's structured-header parser keeps that whitespace in display names
    (CPython gh-128110, fixed upstream in 2026), so long encoded names are read with the
    legacy parser and ``email.header`` instead, as mail clients read them.
    """
    legacy = email.message_from_bytes(raw, policy=compat32)
    [(name, _addr)] = email.utils.getaddresses([legacy["To"]])
    return str(email.header.make_header(email.header.decode_header(name)))


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def assert_well_formed(raw: bytes) -> None:
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r"), "bare CR or LF"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()
    for word in ENCODED_WORD.findall(raw):
        assert len(word) <= 75


class TestSubject:
    @pytest.mark.parametrize("subject", [KOREAN_SUBJECT, JAPANESE_SUBJECT])
    def test_long_cjk_subject_is_folded_and_decodes_exactly(self, subject):
        raw = build(subject=subject)

        assert parse(raw)["Subject"] == subject
        subject_lines = re.search(rb"\r\nSubject: (.*?)\r\n(?! )", raw, re.S).group(1)
        assert subject_lines.count(b"\r\n ") >= 2
        assert all(len(line) <= 78 for line in header_block(raw).split(b"\r\n")[:12])
        assert_well_formed(raw)

    def test_encoded_words_never_split_a_character(self):
        for word in re.findall(r"=\?utf-8\?b\?([^?]*)\?=", encode_header_value(KOREAN_SUBJECT)):
            base64.b64decode(word).decode("utf-8")  # each word is valid UTF-8 on its own

    def test_short_ascii_subject_stays_readable(self):
        assert b"\r\nSubject: Spring sale: 20% off\r\n" in build(subject="Spring sale: 20% off")

    def test_long_ascii_subject_folds_at_spaces(self):
        subject = "Our spring newsletter: " + "news and offers " * 12 + "inside"
        raw = build(subject=subject)

        assert parse(raw)["Subject"] == subject
        assert all(len(line) <= 78 for line in header_block(raw).split(b"\r\n")[:8])

    @pytest.mark.parametrize("subject", ["=?utf-8?q?not_a_word?=", " padded ", "two  spaces"])
    def test_ascii_a_parser_would_alter_is_encoded(self, subject):
        assert parse(build(subject=subject))["Subject"] == subject


class TestMailboxes:
    @pytest.mark.parametrize(
        "name",
        ["김철수", "山田 太郎", 'Doe, John "Johnny" Jr.', "O'Brien (Sales)", "Émilie Dupont",
         "Back\\slash", "김" * 40],
    )
    def test_display_names_round_trip(self, name):
        raw = build(to_name=name)

        assert display_name(raw) == name
        assert parse(raw)["To"].addresses[0].addr_spec == "kim@example.kr"

    def test_short_encoded_name_is_one_encoded_word(self):
        raw = build(to_name="김철수 대표님")

        assert parse(raw)["To"].addresses[0].display_name == "김철수 대표님"
        assert b"\r\nTo: =?utf-8?b?6rmA7LKg7IiYIOuMgO2RnOuLmA==?= <kim@example.kr>\r\n" in raw

    def test_empty_name_gives_a_bare_address(self):
        assert b"\r\nTo: kim@example.kr\r\n" in build(to_name="  ")

    def test_sender_and_reply_to(self):
        sk = skeleton(sender='"Envoi, 뉴스" <news@envoi.test>', reply_to="help@envoi.test")
        message = parse(build(sk))

        assert message["From"].addresses[0].display_name == "Envoi, 뉴스"
        assert message["From"].addresses[0].addr_spec == "news@envoi.test"
        assert message["Reply-To"] == "help@envoi.test"

    @pytest.mark.parametrize("addr", ["kim@example.kr\r\nBcc: x@evil", "kim @example.kr",
                                      "kim@example.kr\n", "", "nobody", "<kim@example.kr>",
                                      "김@example.kr"])
    def test_unusable_recipient_addresses_are_refused(self, addr):
        with pytest.raises(HeaderValueError, match="^to_addr: "):
            build(to_addr=addr)

    def test_parse_mailbox(self):
        assert parse_mailbox("Envoi News <news@envoi.test>", "sender") == (
            "Envoi News", "news@envoi.test")
        assert parse_mailbox("news@envoi.test", "sender") == ("", "news@envoi.test")

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("News <news@envoi.test>\r\nBcc: x@evil", "sender: contains a line break (CR/LF)"),
            ("News\x00 <news@envoi.test>", "sender: contains a control character"),
            ("", "sender: is empty"),
            ("News <news>", "sender: 'News <news>' is not an address"),
            ("a@envoi.test, b@envoi.test", "sender: must hold exactly one address"),
        ],
    )
    def test_parse_mailbox_refusals_name_the_field(self, value, message):
        with pytest.raises(HeaderValueError, match=re.escape(message)):
            parse_mailbox(value, "sender")

    @given(value=st.text(max_size=60))
    @settings(max_examples=200, deadline=None)
    def test_parse_mailbox_fails_only_with_header_value_error(self, value):
        try:
            name, addr = parse_mailbox(value, "sender")
        except HeaderValueError:
            return
        assert "@" in addr
        assert not UNSAFE.search(name + addr)

    def test_format_mailbox_quotes_specials(self):
        assert format_mailbox("Doe, John", "j@x.test") == '"Doe, John" <j@x.test>'
        assert format_mailbox("John Doe", "j@x.test") == "John Doe <j@x.test>"


class TestHeaderInjection:
    def test_line_breaks_in_subject_and_name_add_no_header(self):
        raw = build(subject="Hi\r\nBcc: x@evil", to_name="Eve\nBcc: y@evil.test\r\n\r\nbody")
        message = parse(raw)

        assert "Bcc" not in message
        assert message["Subject"] == "Hi  Bcc: x@evil"
        assert display_name(raw) == "Eve Bcc: y@evil.test    body"
        assert message.keys() == [
            "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "List-Unsubscribe",
            "List-Unsubscribe-Post", "Content-Type",
        ]
        assert_well_formed(raw)

    @pytest.mark.parametrize("field", ["message_id", "date", "list_unsubscribe"])
    def test_verbatim_fields_refuse_line_breaks(self, field):
        with pytest.raises(HeaderValueError, match=f"^{field}: "):
            build(**{field: "<a@b.test>\r\nBcc: x@evil"})

    @given(subject=st.text(max_size=300), name=st.text(max_size=120))
    @settings(max_examples=300, deadline=None)
    def test_any_unicode_round_trips_without_injection(self, subject, name):
        raw = build(subject=subject, to_name=name)
        message = parse(raw)

        assert message["Subject"] == UNSAFE.sub(" ", subject)
        assert display_name(raw) == UNSAFE.sub(" ", name).strip()
        assert message["To"].addresses[0].addr_spec == "kim@example.kr"
        assert len(message.keys()) == 9
        assert_well_formed(raw)


@given(subject=st.text(max_size=200), name=st.text(max_size=80),
       html=st.text(max_size=400), text=st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_output_is_smtp_transparent(subject, name, html, text):
    """What the worker's ``send(..., transparent=True)`` relies on: CRLF only, a final
    CRLF, and no line starting with a dot, whatever the personalized content."""
    raw = build(subject=subject, to_name=name, html=html, text=text)
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r")
    assert raw.endswith(b"\r\n")
    assert not raw.startswith(b".") and b"\r\n." not in raw


class TestStructure:
    def test_headers_come_in_order_with_ids_and_one_click_unsubscribe(self):
        sk = skeleton(reply_to="help@envoi.test", extra_headers={"X-Campaign": "spring"})
        message = parse(build(sk, return_path="bounce+d42.r7@bounces.envoi.test"))

        assert message.keys() == [
            "Return-Path", "Date", "From", "To", "Reply-To", "Subject", "Message-ID",
            "MIME-Version", "List-Unsubscribe", "List-Unsubscribe-Post", "X-Campaign",
            "Content-Type",
        ]
        assert message["Return-Path"] == "<bounce+d42.r7@bounces.envoi.test>"
        assert message["Message-ID"] == "<d42.r7@bounces.envoi.test>"
        assert message["List-Unsubscribe"] == (
            "<https://envoi.test/u/abc>, <mailto:unsubscribe+abc@envoi.test>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    def test_no_return_path_by_default_and_unsubscribe_post_optional(self):
        message = parse(build(list_unsubscribe_post=False))

        assert "Return-Path" not in message
        assert "List-Unsubscribe" in message
        assert "List-Unsubscribe-Post" not in message

    def test_empty_list_unsubscribe_leaves_out_both_headers(self):
        message = parse(build(list_unsubscribe=""))

        assert "List-Unsubscribe" not in message
        assert "List-Unsubscribe-Post" not in message

    def test_alternative_parts_decode_exactly_text_first(self):
        raw = build()
        message = parse(raw)

        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
        assert parts[0].get_content() == TEXT
        assert parts[1].get_content() == HTML
        assert all(part["Content-Transfer-Encoding"] == "base64" for part in parts)
        assert_well_formed(raw)

    @pytest.mark.parametrize(("has_html", "has_text", "kind", "body"),
                             [(True, False, "text/html", HTML), (False, True, "text/plain", TEXT)])
    def test_single_part_messages(self, has_html, has_text, kind, body):
        raw = build(skeleton(has_html=has_html, has_text=has_text))
        message = parse(raw)

        assert message.get_content_type() == kind
        assert message.get_content_charset() == "utf-8"
        assert message.get_content() == body
        assert_well_formed(raw)

    def test_boundary_is_random_per_skeleton(self):
        assert skeleton().boundary != skeleton().boundary

    def test_needs_at_least_one_part(self):
        with pytest.raises(ValueError, match="needs an HTML part"):
            skeleton(has_html=False, has_text=False)

    @pytest.mark.parametrize("extra", [{"Subject": "x"}, {"Bad Name": "x"}, {"X-A:": "x"}])
    def test_extra_headers_cannot_clash_or_break_the_syntax(self, extra):
        with pytest.raises(HeaderValueError, match="^extra_headers: "):
            skeleton(extra_headers=extra)

    def test_extra_header_values_are_cleaned(self):
        message = parse(build(skeleton(extra_headers={"X-Campaign": "봄\r\nBcc: x@evil"})))

        assert message["X-Campaign"] == "봄  Bcc: x@evil"
        assert "Bcc" not in message


class TestIdsAndDates:
    def test_make_message_id(self):
        assert make_message_id("d1.r2", "bounces.envoi.test") == "<d1.r2@bounces.envoi.test>"

    @pytest.mark.parametrize(("unique", "domain"), [("a b", "x.test"), ("a>", "x.test"),
                                                    ("a", "x.test\r\n"), ("", "x.test")])
    def test_make_message_id_refuses_unsafe_parts(self, unique, domain):
        with pytest.raises(HeaderValueError, match="^message_id: "):
            make_message_id(unique, domain)

    def test_format_date_of_a_given_moment(self):
        seoul = timezone(timedelta(hours=9))
        assert format_date(datetime(2025, 6, 2, 18, 30, tzinfo=seoul)) == (
            "Mon, 02 Jun 2025 18:30:00 +0900")
        assert format_date(datetime(2025, 6, 2, 9, 30)) == "Mon, 02 Jun 2025 09:30:00 +0000"

    def test_format_date_now_parses_back(self):
        parsed = email.utils.parsedate_to_datetime(format_date())

        assert abs(parsed - datetime.now(UTC)) < timedelta(seconds=5)
