"""Segment counting against an independent count: the parts a handset would reassemble,
counted from the encoded bytes rather than from the characters."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from envoi.sending.channels.sms import segments
from envoi.sending.channels.sms.segments import GSM7, UCS2, count_parts, segment, ucs2_forcing

GSM_TEXT = st.text(alphabet=st.sampled_from(sorted(segments.GSM_BASIC)), max_size=600)
EXTENDED_TEXT = st.text(alphabet=st.sampled_from(sorted(segments.GSM_BASIC)
                                                 + sorted(segments.GSM_EXTENSION)),
                        max_size=600)
CJK_AND_EMOJI = st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # kana
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F),  # emoji
    st.sampled_from(sorted(segments.GSM_BASIC))), max_size=300)


def independent_count(text: str) -> int:
    """Parts by packing the encoded units greedily, never splitting an escape or a
    surrogate pair: from the wire bytes, not the character tables."""
    if all(c in segments.GSM_BASIC or c in segments.GSM_EXTENSION for c in text):
        units = [2 if c in segments.GSM_EXTENSION else 1 for c in text]
        single, per_part = 160, 153
    else:
        wire = text.encode("utf-16-be")
        units = []
        index = 0
        while index < len(wire):
            high = 0xD800 <= int.from_bytes(wire[index:index + 2], "big") <= 0xDBFF
            units.append(2 if high else 1)
            index += 4 if high else 2
        single, per_part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


@settings(max_examples=300, deadline=None)
@given(st.one_of(GSM_TEXT, EXTENDED_TEXT, CJK_AND_EMOJI))
def test_part_count_equals_an_independent_count(text: str) -> None:
    assert count_parts(text) == independent_count(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(EXTENDED_TEXT, CJK_AND_EMOJI))
def test_parts_decode_back_to_the_text(text: str) -> None:
    result = segment(text)
    coding = segments.DATA_CODING[result.encoding]
    assert "".join(segments.decode(part, coding) for part in result.parts) == text
    per_part = 153 if result.encoding == GSM7 else 67
    if result.count > 1:
        for part in result.parts:
            size = len(part) if result.encoding == GSM7 else len(part) // 2
            assert size <= per_part


def test_limits_at_the_edges() -> None:
    assert count_parts("a" * 160) == 1
    assert count_parts("a" * 161) == 2
    assert count_parts("a" * 306) == 2
    assert count_parts("a" * 307) == 3
    assert count_parts("€" * 80) == 1  # extension characters count twice
    assert count_parts("€" * 81) == 2
    assert count_parts("가" * 70) == 1
    assert count_parts("가" * 71) == 2
    assert count_parts("😀" * 35) == 1  # two UTF-16 units each
    assert count_parts("😀" * 36) == 2
    assert segment("😀" * 36).units == 72
    assert math.ceil(72 / 67) == 2


def test_encoding_and_the_characters_that_force_ucs2() -> None:
    assert segment("Hello {name} €5").encoding == GSM7
    assert segment("안녕하세요").encoding == UCS2
    assert ucs2_forcing("Sale – 50%") == [5]  # the en dash is not in GSM 03.38
    assert segment("[x]").parts == (b"\x1b\x3cx\x1b\x3e",)
