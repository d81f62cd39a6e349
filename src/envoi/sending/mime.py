"""RFC 5322 / 2045 / 2047 message bytes, built from a per-delivery skeleton.

``email.message.EmailMessage.as_bytes()`` manages about 450 messages a second on the
reference machine: it re-folds, re-encodes and re-validates every header of every
message. In one delivery almost every byte of a message is the same for every
recipient (sender, MIME structure, part headers), so :class:`MessageSkeleton` encodes
those once, and :meth:`MessageSkeleton.build` only encodes what is personal: the
recipient, the subject, the bodies, the ids.

Header injection is ruled out at the source: unstructured text (subjects, display
names) has every control character replaced by a space before it is encoded, and
anything that must stay verbatim (addresses, ids, dates, URLs) is refused with a
:class:`HeaderValueError` when it contains a line break or other unsafe character.

Headers are always 7-bit clean (RFC 2047 encoded words), so no message needs SMTPUTF8.
Bodies are base64 by default, which every relay takes. ``build(..., eight_bit=True)``
writes each body that allows it as is instead (``8bit``, or ``7bit`` when it is ASCII;
see :func:`eight_bit_body`): such a message may be handed only to a relay that offers
8BITMIME (RFC 6152), and it spares the base64 encoding, the largest single cost of a
message, and a quarter of its size.
"""

from __future__ import annotations

import binascii
import re
import secrets
import struct
import time
from datetime import UTC, datetime
from email import policy
from email.utils import format_datetime
from functools import lru_cache
from typing import Protocol

CRLF = b"\r\n"
MAX_LINE = 78
"""RFC 5322 2.1.1: lines SHOULD be at most 78 characters (and MUST be at most 998)."""
MAX_ENCODED_WORD = 75
"""RFC 2047 2: an encoded word is at most 75 characters long."""
BASE64_LINE = 76
_BASE64_LINES = struct.Struct(f"{BASE64_LINE}s")
"""RFC 2045 6.8: base64 lines are at most 76 characters long."""

_ENCODED_WORD_PREFIX = "=?utf-8?b?"
_ENCODED_WORD_OVERHEAD = len(_ENCODED_WORD_PREFIX) + len("?=")
_MIN_FIRST_WORD = _ENCODED_WORD_OVERHEAD + 12
"""Room for at least one 4-byte UTF-8 character, however long the field name."""
_MAX_PLAIN_WORD = 900
"""A longer run without spaces cannot be folded under 998 characters: encode it."""
_MAX_PLAIN_PHRASE = 60
"""Longer display names are encoded, so they fold between encoded words."""

_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (C0, DEL, C1) and Unicode line/paragraph separators."""
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/?^_`{|}~-]+)*")
"""A display name that needs no quoting (RFC 5322 atoms; '=' left out so it can
never look like an encoded word)."""
_ADDRESS = re.compile(r"[!-~]+@[!-~]+")
_ADDRESS_FORBIDDEN = re.compile(r"[<>,;]")
_MESSAGE_ID = re.compile(r"<[!-;=?A-~]+@[!-;=?A-~]+>")
"""<left@right>, each side printable ASCII without '<', '>' or '@'."""
_ID_LEFT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_ID_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
"""RFC 5322 field names: printable ASCII except ':'."""

RESERVED_FIELDS = frozenset(
    name.lower()
    for name in (
        "Return-Path", "Date", "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject",
        "Message-ID", "MIME-Version", "List-Unsubscribe", "List-Unsubscribe-Post",
        "Content-Type", "Content-Transfer-Encoding",
    )
)
"""Fields the skeleton writes itself; extra headers may not repeat them."""


class HeaderValueError(ValueError):
    """A value cannot go into a header verbatim; the message names the field."""


def clean_text(text: str) -> str:
    """Replace control characters and line separators with spaces.

    What remains cannot end a header line, so text from a template or a profile can
    never inject a header.
    """
    return _UNSAFE_TEXT.sub(" ", text)


def encode_header_value(text: str, *, offset: int = 0) -> str:
    """Encode unstructured text (a subject) as a header value, folded with CRLF + space.

    Plain ASCII stays readable; anything else becomes RFC 2047 base64 UTF-8 encoded
    words of at most 75 characters that never split a character. ``offset`` is the
    room the field name already takes on the first line (``len("Subject: ")``), so
    that every line stays within 78 characters. Subjects repeat across a delivery,
    hence the cache.
    """
    return _encode_unstructured(clean_text(text), offset)


@lru_cache(maxsize=4096)
def _encode_unstructured(text: str, offset: int) -> str:
    if _is_plain_ascii(text):
        return _fold_at_spaces(text, offset)
    return "\r\n ".join(_encoded_words(text, offset))


def _is_plain_ascii(text: str) -> bool:
    """True when a parser will read ``text`` back exactly as written.

    Leading, trailing and doubled spaces would be lost in unfolding, and ``=?`` would
    be taken for the start of an encoded word, so such text is encoded instead.
    """
    return (
        text.isascii()
        and "=?" not in text
        and "  " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
        and (len(text) <= _MAX_PLAIN_WORD or _longest_word(text) <= _MAX_PLAIN_WORD)
    )


def _longest_word(text: str) -> int:
    return max(len(word) for word in text.split(" "))


def _fold_at_spaces(text: str, offset: int) -> str:
    """Fold before spaces so lines stay within 78 characters where words allow it.

    Folding only inserts CRLF before an existing space, so unfolding restores the
    exact text.
    """
    width = MAX_LINE - offset
    if len(text) <= width:
        return text
    lines = []
    start = 0
    while len(text) - start > width:
        cut = text.rfind(" ", start + 1, start + width + 1)
        if cut == -1:
            cut = text.find(" ", start + width + 1)
            if cut == -1:
                break
        lines.append(text[start:cut])
        start = cut
        width = MAX_LINE
    lines.append(text[start:])
    return "\r\n".join(lines)


def _encoded_words(text: str, offset: int) -> list[str]:
    """Split UTF-8 bytes into encoded words, cutting only between characters.

    Whitespace between adjacent encoded words is ignored when decoding (RFC 2047 6.2),
    so the words may be folded freely without changing the text.
    """
    data = text.encode("utf-8", "replace")
    words = []
    room = max(MAX_LINE - offset, _MIN_FIRST_WORD)
    start = 0
    while start < len(data):
        payload = (min(room, MAX_ENCODED_WORD) - _ENCODED_WORD_OVERHEAD) // 4 * 3
        end = min(start + payload, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        encoded = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"{_ENCODED_WORD_PREFIX}{encoded}?=")
        start = end
        room = MAX_LINE - 1  # continuation lines start with a space
    return words


def parse_mailbox(value: str, field: str) -> tuple[str, str]:
    """Split ``"Name <addr@example.com>"`` or ``"addr@example.com"`` into (name, address).

    Used for configured senders, once per delivery, so it relies on the standard
    library's full RFC 5322 parser rather than speed.
    """
    _refuse_unsafe(value, field)
    if not value.strip():
        raise HeaderValueError(f"{field}: is empty")
    try:
        addresses = policy.default.header_factory("From", value).addresses
    except Exception as exc:  # the stdlib parser trips over some malformed input
        raise HeaderValueError(f"{field}: {value!r} cannot be parsed ({exc})") from exc
    if len(addresses) != 1:
        raise HeaderValueError(f"{field}: must hold exactly one address, not {value!r}")
    mailbox = addresses[0]
    if not mailbox.username or not mailbox.domain:
        raise HeaderValueError(f"{field}: {value!r} is not an address (user@domain)")
    check_address(mailbox.addr_spec, field)
    return mailbox.display_name, mailbox.addr_spec


def _refuse_unsafe(value: str, field: str) -> None:
    if "\r" in value or "\n" in value:
        raise HeaderValueError(f"{field}: contains a line break (CR/LF)")
    if _UNSAFE_TEXT.search(value):
        raise HeaderValueError(f"{field}: contains a control character")


def _refuse_unverbatim(value: str, field: str) -> None:
    """Refuse a value written as is: no line breaks or controls, ASCII only."""
    _refuse_unsafe(value, field)
    if not value.isascii():
        raise HeaderValueError(f"{field}: must be ASCII (percent-encode URIs)")


def check_address(addr: str, field: str) -> None:
    """Refuse an address that cannot be written verbatim into a header or SMTP command.

    Non-ASCII addresses would need SMTPUTF8 and a message/global message, which the
    skeleton does not produce; preparation is expected to have normalized them.
    """
    if _ADDRESS.fullmatch(addr) and not _ADDRESS_FORBIDDEN.search(addr):
        return
    _refuse_unsafe(addr, field)
    if not addr.isascii():
        raise HeaderValueError(f"{field}: {addr!r} is not ASCII (SMTPUTF8 is not supported)")
    if any(char.isspace() for char in addr):
        raise HeaderValueError(f"{field}: {addr!r} contains whitespace")
    raise HeaderValueError(f"{field}: {addr!r} is not a plain address (user@domain)")


def format_mailbox(name: str, addr: str, *, field: str = "address", offset: int = 0) -> str:
    """Format ``Name <addr>``, the name as atoms, a quoted string or encoded words.

    The name is cleaned of control characters and surrounding whitespace (which
    carries no meaning in a display name); an empty name gives the bare address.
    ``offset`` is the room the field name takes on the first line.
    """
    check_address(addr, field)
    name = clean_text(name).strip()
    if not name:
        return addr
    phrase = _display_name(name, offset)
    last_line = phrase.rsplit("\n", 1)[-1]
    used = len(last_line) + (0 if "\n" in phrase else offset)
    separator = "\r\n " if used + len(addr) + 3 > MAX_LINE else " "
    return f"{phrase}{separator}<{addr}>"


@lru_cache(maxsize=4096)
def _display_name(name: str, offset: int) -> str:
    if len(name) <= _MAX_PLAIN_PHRASE and name.isascii():
        if _ATOM_PHRASE.fullmatch(name):
            return name
        if "=?" not in name:
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{escaped}"'
    return "\r\n ".join(_encoded_words(name, offset))


def make_message_id(unique: str, domain: str) -> str:
    """``<unique@domain>``: the per-recipient id that lets bounces find their log row."""
    if not _ID_LEFT.fullmatch(unique):
        raise HeaderValueError(f"message_id: {unique!r} is not a valid id left part")
    if not _ID_DOMAIN.fullmatch(domain):
        raise HeaderValueError(f"message_id: {domain!r} is not a valid domain")
    return f"<{unique}@{domain}>"


_date_cache: tuple[int, str] = (-1, "")


def format_date(dt: datetime | None = None) -> str:
    """RFC 5322 date (``Mon, 02 Jun 2025 09:30:00 +0000``); naive datetimes are UTC.

    The current time is formatted at most once a second: thousands of messages a
    second share it.
    """
    global _date_cache
    if dt is not None:
        return format_datetime(dt if dt.tzinfo else dt.replace(tzinfo=UTC))
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = format_datetime(datetime.fromtimestamp(now, UTC))
        _date_cache = (now, text)
    return text


def base64_body(text: str) -> bytes:
    """UTF-8, base64, 76-character CRLF lines.

    Why base64 rather than quoted-printable, measured on a 20 KB marketing HTML body
    with 45 links: base64 plus line wrapping takes ~45 us, ``binascii.b2a_qp`` ~120 us.
    QP is smaller only for pure-ASCII HTML (21.2 KB against 26.4 KB; every ``=`` of an
    attribute costs 3 bytes), and with 15 % Korean bytes it is already larger (27.9 KB
    against 27.4 KB): a Korean or Japanese character costs 9 bytes in QP, 4 in base64.
    base64 is faster, its size is predictable, and its lines never start with a dot.
    The text is encoded byte for byte: line endings inside a base64 body do not matter
    to transport, and every client renders LF.
    """
    encoded = binascii.b2a_base64(text.encode("utf-8", "replace"), newline=False)
    # struct cuts the full lines in C: ~40 % faster than slicing in a comprehension.
    whole = len(encoded) - len(encoded) % BASE64_LINE
    lines = [line for (line,) in _BASE64_LINES.iter_unpack(encoded[:whole])]
    if whole < len(encoded):
        lines.append(encoded[whole:])
    return CRLF.join(lines)


MAX_8BIT_LINE = 998
"""RFC 5322 2.1.1 and RFC 6152: an 8bit line holds at most 998 octets before its CRLF."""


def eight_bit_body(text: str) -> bytes | None:
    """The body as it can travel unencoded, UTF-8 with CRLF line endings — or ``None``
    when it must be base64: it holds a NUL or a bare CR, a line longer than 998 octets,
    or a line starting with ``.`` or ``From ``.

    Measured on the benchmark's 20 KB Korean HTML part: ~40 µs (of which UTF-8 ~15 µs,
    which base64 needs too) where base64 and its line wrapping cost ~60 µs; and the
    part is 21 KB instead of 28 KB, which the relay and the socket feel too.
    """
    data = text.encode("utf-8", "replace")
    if b"\0" in data:
        return None
    if b"\r" in data:  # CRLF written by the template is fine; a lone CR is not
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    lines = data.split(b"\n")
    if max(map(len, lines)) > MAX_8BIT_LINE or _transport_may_alter(lines):
        return None
    return data.replace(b"\n", CRLF)  # as CRLF.join(lines), in a sixth of the time


def _transport_may_alter(lines: list[bytes]) -> bool:
    """A line starting with ``.`` (SMTP dot-stuffing, which the SMTP client skips for
    builder output: ``SmtpConnection.send(transparent=True)``) or ``From `` (quoted as
    ``>From `` in mbox mailboxes). base64 never starts a line with either.

    The set of first bytes costs ~5 µs for 90 lines, ``startswith`` on each ~14 µs.
    """
    firsts = {line[:1] for line in lines}
    return b"." in firsts or (b"F" in firsts and any(line.startswith(b"From ")
                                                     for line in lines))


class PreparedBody(Protocol):
    """A body that knows its unencoded form already (:mod:`envoi.sending.layout`)."""

    @property
    def text(self) -> str: ...

    @property
    def unencoded(self) -> bytes | None:
        """What :func:`eight_bit_body` gives for :attr:`text`."""


Body = str | PreparedBody


def _header(name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode("ascii")


def _fold_list_unsubscribe(value: str) -> str:
    """Fold between the URIs: a one-click URL and a mailto easily exceed 78 characters."""
    if len("List-Unsubscribe: ") + len(value) <= MAX_LINE:
        return value
    return value.replace(", ", ",\r\n ")


class MessageSkeleton:
    """The constant bytes of one delivery's messages, encoded once.

    ``build()`` then writes only what changes per recipient. A fresh random MIME
    boundary is drawn per skeleton; it starts with ``=_``, which neither base64 nor
    quoted-printable output can contain, and an unencoded body that holds it is
    base64-encoded instead, so no body can collide with it.
    """

    def __init__(
        self,
        *,
        sender: str,
        reply_to: str = "",
        has_html: bool,
        has_text: bool,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        if not (has_html or has_text):
            raise ValueError("a message needs an HTML part, a text part, or both")
        sender_name, sender_addr = parse_mailbox(sender, "sender")
        self.sender_address = sender_addr
        self._from = _header("From", format_mailbox(sender_name, sender_addr, offset=6))
        self._reply_to = b""
        if reply_to:
            name, addr = parse_mailbox(reply_to, "reply_to")
            self._reply_to = _header("Reply-To", format_mailbox(name, addr, offset=10))
        self._extra = b"".join(_extra_header(n, v) for n, v in (extra_headers or {}).items())
        self.boundary = "=_envoi_" + secrets.token_hex(16)
        self._boundary_bytes = self.boundary.encode("ascii")
        self._parts = tuple(kind for kind, wanted in (("text", has_text), ("html", has_html))
                            if wanted)
        self._separators: dict[tuple[str, ...], tuple[bytes, ...]] = {}

    def _body_separators(self, encodings: tuple[str, ...]) -> tuple[bytes, ...]:
        """The bytes around the bodies, each part declaring its transfer encoding: one
        more separator than there are parts. At most 3 ** parts combinations: cached."""
        separators = self._separators.get(encodings)
        if separators is None:
            separators = self._separators[encodings] = self._make_separators(encodings)
        return separators

    def _make_separators(self, encodings: tuple[str, ...]) -> tuple[bytes, ...]:
        headers = [_part_headers(kind, encoding)
                   for kind, encoding in zip(self._parts, encodings, strict=True)]
        if len(self._parts) == 1:
            return (headers[0] + CRLF, CRLF)
        dash = f"--{self.boundary}".encode("ascii")
        opening = (
            _header("Content-Type", f'multipart/alternative; boundary="{self.boundary}"')
            + CRLF + dash + CRLF + headers[0] + CRLF
        )
        return (opening, CRLF + dash + CRLF + headers[1] + CRLF,
                CRLF + dash + b"--" + CRLF)

    def build(
        self,
        *,
        to_addr: str,
        to_name: str,
        subject: str,
        html: Body,
        text: Body,
        message_id: str,
        date: str,
        list_unsubscribe: str,
        list_unsubscribe_post: bool = True,
        return_path: str | None = None,
        eight_bit: bool = False,
    ) -> bytes:
        """One recipient's complete message, CRLF line endings throughout.

        A body whose part the skeleton does not have is ignored. An empty
        ``list_unsubscribe`` leaves out both List-Unsubscribe headers. With
        ``eight_bit``, bodies that allow it are written unencoded (module docstring):
        the message then needs a relay that offers 8BITMIME unless it is ASCII.
        """
        bodies = {"text": text, "html": html}
        encoded = [_encode_body(bodies[kind], eight_bit, self._boundary_bytes)
                   for kind in self._parts]
        separators = self._body_separators(tuple(encoding for encoding, _ in encoded))
        chunks = [
            self._main_headers(to_addr, to_name, subject, message_id, date, return_path),
            self._unsubscribe_headers(list_unsubscribe, list_unsubscribe_post),
            self._extra,
            separators[0],
        ]
        for (_, body), separator in zip(encoded, separators[1:], strict=True):
            chunks.append(body)
            chunks.append(separator)
        if len(encoded) == 1 and _is_whole_lines(*encoded[0]):
            chunks.pop()  # the final CRLF would add an empty line to the content
        return b"".join(chunks)

    def _main_headers(
        self, to_addr: str, to_name: str, subject: str, message_id: str, date: str,
        return_path: str | None,
    ) -> bytes:
        if not _MESSAGE_ID.fullmatch(message_id):
            raise HeaderValueError(f"message_id: {message_id!r} is not <left@domain>")
        _refuse_unverbatim(date, "date")
        lines = [
            _header("Date", date),
            self._from,
            _header("To", format_mailbox(to_name, to_addr, field="to_addr", offset=4)),
            self._reply_to,
            _header("Subject", encode_header_value(subject, offset=9)),
            _header("Message-ID", message_id),
            b"MIME-Version: 1.0\r\n",
        ]
        if return_path is not None:
            check_address(return_path, "return_path")
            lines.insert(0, _header("Return-Path", f"<{return_path}>"))
        return b"".join(lines)

    @staticmethod
    def _unsubscribe_headers(value: str, one_click: bool) -> bytes:
        if not value:
            return b""
        _refuse_unverbatim(value, "list_unsubscribe")
        header = _header("List-Unsubscribe", _fold_list_unsubscribe(value))
        if one_click:  # RFC 8058
            header += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        return header


def _encode_body(body: Body, eight_bit: bool, boundary: bytes) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes): unencoded when allowed and possible."""
    if eight_bit:
        unencoded = eight_bit_body(body) if isinstance(body, str) else body.unencoded
        if unencoded is not None and boundary not in unencoded:
            return ("7bit" if unencoded.isascii() else "8bit"), unencoded
    return "base64", base64_body(body if isinstance(body, str) else body.text)


def _is_whole_lines(encoding: str, body: bytes) -> bool:
    """An unencoded body that already ends its last line (or is empty). Outside a
    multipart, nothing follows the body, so the message ends there."""
    return encoding != "base64" and (not body or body.endswith(CRLF))


def _part_headers(kind: str, encoding: str) -> bytes:
    return (
        _header("Content-Type", f"text/{'plain' if kind == 'text' else 'html'}; charset=utf-8")
        + _header("Content-Transfer-Encoding", encoding)
    )


def _extra_header(name: str, value: str) -> bytes:
    """A configured extra header (e.g. a campaign id), checked once per skeleton."""
    if not _FIELD_NAME.fullmatch(name):
        raise HeaderValueError(f"extra_headers: {name!r} is not a valid field name")
    if name.lower() in RESERVED_FIELDS:
        raise HeaderValueError(f"extra_headers: {name} is written by Envoi itself")
    return _header(name, encode_header_value(value, offset=len(name) + 2))
