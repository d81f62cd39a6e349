"""A message part as fixed text with gaps, checked for 8-bit transport once per delivery.

Within one delivery, a part is the same text for every recipient except in its *gaps*:
the profile values it prints and its tracking URLs. Whether a body may travel
unencoded (:func:`~envoi.sending.mime.eight_bit_body`: no NUL or bare CR, no line over
998 octets, no line starting with ``.`` or ``From ``) then depends on the gaps only
through their line breaks, their lengths, and what they put at the start of a line.
A :class:`PartLayout` settles the rest once: it encodes the fixed text with CRLF line
ends, checks it, finds the longest value that fits every gap of every line, and keeps
the few lines whose first five characters a gap may change.

Per recipient, :meth:`AssembledPart.unencoded` checks that no value holds a line
break, CR or NUL, that no value is longer than that and that those few lines start
well, then joins the encoded values into the encoded fixed text: ~18 µs for the
benchmark's 20 KB HTML part with its 140 gaps, where encoding and scanning the whole
body costs ~32 µs (and the text had to be joined first). Whenever one of those checks
fails it falls back to :func:`eight_bit_body` on the whole text, so the result is
always exactly what that gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from envoi.sending.mime import CRLF, MAX_8BIT_LINE, eight_bit_body

_GAP = "\x01"
"""Stands for a gap while the layout is measured; fixed text holding it has no layout."""
_LINE_HEAD = len("From ")
"""How much of a line start matters (:func:`~envoi.sending.mime._transport_may_alter`)."""


@dataclass(frozen=True)
class LineStart:
    """A line whose first characters a gap may supply: its fixed chunks, and the index
    of its first gap (the gaps on the line follow one another)."""

    chunks: tuple[str, ...]
    first_gap: int

    def may_be_altered(self, values: Sequence[str]) -> bool:
        gaps = values[self.first_gap:self.first_gap + len(self.chunks) - 1]
        line = "".join(_interleave(self.chunks, gaps, ""))
        return line.startswith((".", "From "))


@dataclass(frozen=True)
class PartLayout:
    """What one delivery's part is for every recipient (see the module docstring)."""

    fixed: tuple[str, ...]
    """The text around the gaps: one more piece than there are gaps."""
    fixed_8bit: tuple[bytes, ...] | None
    """The fixed pieces in UTF-8 with CRLF line ends, or ``None`` when the fixed text
    fails the check with one character in each gap: every body of such a layout takes
    the whole check."""
    longest_value: int = 0
    """The longest value, in octets, that no line of this layout overflows with in
    every one of its gaps."""
    line_starts: tuple[LineStart, ...] = ()

    @classmethod
    def of(cls, fixed: Sequence[str]) -> PartLayout:
        fixed = tuple(fixed)
        if any(_GAP in piece for piece in fixed):
            return cls(fixed, None)
        probe = _GAP.join(fixed)
        checked = eight_bit_body(probe)
        if checked is None:
            return cls(fixed, None)
        gap = _GAP.encode()
        longest = MAX_8BIT_LINE
        for line in checked.split(CRLF):
            if gaps := line.count(gap):
                longest = min(longest, (MAX_8BIT_LINE - (len(line) - gaps)) // gaps)
        return cls(fixed, tuple(checked.split(gap)), longest, _line_starts(probe))

    def assemble(self, values: Sequence[str]) -> AssembledPart:
        """One recipient's part: ``values`` fill the gaps in order."""
        return AssembledPart(self, values)


def _line_starts(probe: str) -> tuple[LineStart, ...]:
    """The lines of ``probe`` that a gap may start with ``.`` or ``From ``: a gap among
    their first five characters, with only a start of ``From `` before it (a line
    that starts with ``.`` already failed the check of the probe)."""
    starts = []
    offset = 0
    for line in probe.split("\n"):
        head = line[:_LINE_HEAD].partition(_GAP)
        if head[1] and "From ".startswith(head[0]):
            starts.append(LineStart(tuple(line.split(_GAP)), probe.count(_GAP, 0, offset)))
        offset += len(line) + 1
    return tuple(starts)


class AssembledPart:
    """A part with its gaps filled: its text, and its unencoded form as
    :func:`eight_bit_body` gives it (``None``: it must be base64).

    A plain class: one is made per part of every message, and a frozen dataclass or
    a ``cached_property`` costs ~1 µs each. Neither form is kept: each is usually
    asked for once per message.
    """

    __slots__ = ("layout", "values")

    def __init__(self, layout: PartLayout, values: Sequence[str]):
        self.layout = layout
        self.values = values

    @property
    def text(self) -> str:
        return "".join(_interleave(self.layout.fixed, self.values, ""))

    @property
    def unencoded(self) -> bytes | None:
        layout, values = self.layout, self.values
        if layout.fixed_8bit is None:
            return eight_bit_body(self.text)
        if not values:
            return layout.fixed_8bit[0]
        joined = "\n".join(values)
        if joined.count("\n") >= len(values) or "\r" in joined or "\0" in joined:
            return eight_bit_body(self.text)  # a value breaks a line
        encoded = joined.encode("utf-8", "replace").split(b"\n")
        if max(map(len, encoded)) > layout.longest_value or any(
                start.may_be_altered(values) for start in layout.line_starts):
            return eight_bit_body(self.text)
        return b"".join(_interleave(layout.fixed_8bit, encoded, b""))


_Text = TypeVar("_Text", str, bytes)


def _interleave(fixed: Sequence[_Text], values: Sequence[_Text], empty: _Text) -> list[_Text]:
    out = [empty] * (len(fixed) + len(values))
    out[0::2] = fixed
    out[1::2] = values
    return out
