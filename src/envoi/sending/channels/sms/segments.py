"""SMS encodings and segments (SPEC §11): GSM 03.38 7-bit when every character has a
GSM code, else UCS-2.

- GSM-7: 160 septets in one message, 153 per part once concatenated (the 6-byte UDH
  takes 7 septets). A character of the extension table (``€ [ ] { } ^ ~ | \\`` and form
  feed) is an escape and its code: it counts twice, and a part never splits the pair.
- UCS-2: 70 UTF-16 code units in one message, 67 per part. A character outside the
  Basic Multilingual Plane (an emoji) is a surrogate pair: it counts 2, and a part never
  splits the pair either (a handset would show two broken halves).

Over SMPP the GSM-7 text travels unpacked, one septet per byte, with ``data_coding`` 0
(the SMSC default alphabet); UCS-2 travels as UTF-16 big-endian with ``data_coding`` 8.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7, UCS2 = "gsm7", "ucs2"

# GSM 03.38 default alphabet, by code (0x1B, the escape, is not a character).
_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
          "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
ESCAPE = 0x1B
GSM_BASIC = {char: code for code, char in enumerate(_BASIC) if code != ESCAPE}
GSM_EXTENSION = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                 "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}

SINGLE = {GSM7: 160, UCS2: 70}
PER_PART = {GSM7: 153, UCS2: 67}
MAX_PARTS = 255  # an 8-bit UDH counts parts in one byte

DATA_CODING = {GSM7: 0x00, UCS2: 0x08}


@dataclass(frozen=True)
class Segmented:
    """A text as it goes out: its encoding, length in units, and parts (without UDH)."""

    encoding: str
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: tuple[bytes, ...]

    @property
    def count(self) -> int:
        return len(self.parts)


def encoding_of(text: str) -> str:
    return GSM7 if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text) else UCS2


def ucs2_forcing(text: str) -> list[int]:
    """Positions of the characters that force UCS-2 (none: the text is GSM-7)."""
    return [i for i, c in enumerate(text) if c not in GSM_BASIC and c not in GSM_EXTENSION]


def units_of(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if char in GSM_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def encode_char(char: str, encoding: str) -> bytes:
    if encoding == UCS2:
        return char.encode("utf-16-be")
    if char in GSM_EXTENSION:
        return bytes((ESCAPE, GSM_EXTENSION[char]))
    return bytes((GSM_BASIC[char],))


def segment(text: str) -> Segmented:
    """The text's encoding and parts; one part (maybe empty) when it fits in one."""
    encoding = encoding_of(text)
    units = sum(units_of(char, encoding) for char in text)
    if units <= SINGLE[encoding]:
        return Segmented(encoding, units, (b"".join(encode_char(c, encoding) for c in text),))
    limit = PER_PART[encoding]
    parts: list[bytes] = []
    current: list[bytes] = []
    used = 0
    for char in text:
        size = units_of(char, encoding)
        if used + size > limit:  # the pair goes whole into the next part
            parts.append(b"".join(current))
            current, used = [], 0
        current.append(encode_char(char, encoding))
        used += size
    parts.append(b"".join(current))
    return Segmented(encoding, units, tuple(parts))


def count_parts(text: str) -> int:
    return segment(text).count


def udh(reference: int, total: int, sequence: int) -> bytes:
    """The concatenation header with an 8-bit reference (IEI 0x00)."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, sequence))


def decode(payload: bytes, data_coding: int) -> str:
    """Text of an incoming short message (MO or receipt) in either encoding."""
    if data_coding == DATA_CODING[UCS2]:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding == DATA_CODING[GSM7]:
        return _decode_gsm(payload)
    return payload.decode("latin-1")  # 0x03 (ISO-8859-1) and anything unexpected


_BY_CODE = {code: char for char, code in GSM_BASIC.items()}
_EXTENDED_BY_CODE = {code: char for char, code in GSM_EXTENSION.items()}


def _decode_gsm(payload: bytes) -> str:
    out, escaped = [], False
    for byte in payload:
        if escaped:
            out.append(_EXTENDED_BY_CODE.get(byte, " "))
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(_BY_CODE.get(byte, "?"))
    return "".join(out)
