"""Reading CSV files: bytes in, decoded records out, each with its physical line number.

This layer knows nothing of profiles; the importer (and any later reader of CSV files)
gives it a stream and gets the header cells, then the records. A problem that spoils one
record (bytes that are not text in the file's encoding, a quote never closed, a cell too
long) is reported at its line and costs that record only; a problem that spoils the file
(an unreadable header, too many columns) raises :class:`CsvFileError` before any record.

Each physical line is decoded on its own, so a bad byte is reported on the line that
holds it and the lines around it are still read. Splitting the bytes at ``\\n`` first is
safe for every supported encoding: none uses the byte 0x0A inside a character.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from envoi import config

DEFAULT_MAX_COLUMNS = 1000
SAMPLE_CHUNK = 1 << 16
SAMPLE_LIMIT = 1 << 20
ENCODING_CHOICES = "UTF-8, EUC-KR (CP949), Shift_JIS (CP932)"
# EUC-KR and Shift_JIS files are read with their Windows supersets (what Excel writes):
# CP949 adds the 8,822 Hangul syllables EUC-KR lacks, CP932 the NEC and IBM characters.
LABELS = {"utf-8": "UTF-8", "cp949": "EUC-KR (CP949)", "cp932": "Shift_JIS (CP932)"}
_ALIASES = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
    "euc-kr": "cp949", "euckr": "cp949", "cp949": "cp949", "uhc": "cp949", "ms949": "cp949",
    "windows-949": "cp949", "ks-c-5601-1987": "cp949",
    "shift-jis": "cp932", "shiftjis": "cp932", "sjis": "cp932", "cp932": "cp932",
    "ms932": "cp932", "windows-31j": "cp932", "ms-kanji": "cp932",
}  # fmt: skip
_UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
               codecs.BOM_UTF16_BE)  # fmt: skip
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
Reporter = Callable[[int, str], None]


class CsvFileError(ValueError):
    """The file as a whole cannot be read (a bad header, say); nothing was written."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


def max_columns() -> int:
    """The configured column cap (``ENVOI_IMPORT_MAX_COLUMNS``)."""
    configured = config.env("ENVOI_IMPORT_MAX_COLUMNS", str(DEFAULT_MAX_COLUMNS))
    if not configured.isdigit() or int(configured) < 1:
        raise ImproperlyConfigured(f"ENVOI_IMPORT_MAX_COLUMNS must be a whole number of "
                                   f"columns, not {configured!r}")
    return int(configured)


def codec_of(name: str | None) -> str | None:
    """The codec for an encoding name a person gave; ``None`` (or "auto") detects it."""
    if name is None or name.strip().lower() in ("", "auto"):
        return None
    codec = _ALIASES.get(name.strip().lower().replace("_", "-"))
    if codec is None:
        raise CsvFileError(_('Unknown encoding "%(name)s": give one of %(choices)s, or none '
                             "to detect it.") % {"name": name[:40], "choices": ENCODING_CHOICES})
    return codec


# Lines ----------------------------------------------------------------------------------


class NotText(str):
    """A line whose bytes did not decode: its text with U+FFFD for them, and the error."""

    error: UnicodeDecodeError


@dataclass
class Decoding:
    codec: str
    detected: bool

    @property
    def label(self) -> str:
        return LABELS[self.codec]


def decoded_lines(stream: IO[Any], encoding: str | None) -> tuple[Decoding | None,
                                                                  Iterator[str]]:
    """The stream's lines, decoded one by one; a text stream is taken as decoded."""
    head = stream.read(0)
    if isinstance(head, str):
        return None, _text_lines(stream)
    codec = codec_of(encoding)
    sample = _sample(stream)
    if sample.startswith(_UTF16_BOMS):
        raise CsvFileError(_("The file is UTF-16 or UTF-32 text: save it as UTF-8 (or as "
                             "one of %(choices)s).") % {"choices": ENCODING_CHOICES})
    has_bom = sample.startswith(codecs.BOM_UTF8)
    if has_bom:
        sample = sample[len(codecs.BOM_UTF8) :]
        # the byte order mark can only be UTF-8's: it outranks a guess and a given name
        decoding = Decoding("utf-8", detected=codec is None)
    elif codec is None:
        decoding = Decoding(detect_encoding(sample), detected=True)
    else:
        decoding = Decoding(codec, detected=False)
    return decoding, _decode(_byte_lines(sample, stream), decoding.codec)


def _text_lines(stream: IO[str]) -> Iterator[str]:
    first = next(stream, None)
    if first is not None:
        yield first.lstrip("\ufeff")
        yield from stream


def _sample(stream: IO[bytes]) -> bytes:
    """The file's start: 64 KiB, or more until a byte that is not ASCII shows (up to 1 MiB),
    so a file whose first rows are all ASCII is not taken for UTF-8 too soon."""
    chunks = []
    size = 0
    while size < SAMPLE_LIMIT:
        chunk = stream.read(SAMPLE_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if not chunk.isascii():
            break
    return b"".join(chunks)


def _byte_lines(sample: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    """The sample's lines, then the stream's; the sample's last partial line is completed."""
    pieces = sample.split(b"\n")
    for piece in pieces[:-1]:
        yield piece + b"\n"
    tail = pieces[-1]
    if tail:
        tail += stream.readline()
        if tail:
            yield tail
    yield from stream


def _decode(raw_lines: Iterator[bytes], codec: str) -> Iterator[str]:
    for raw in raw_lines:
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as error:
            line = NotText(raw.decode(codec, errors="replace"))
            line.error = error
            yield line


# Detection ------------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """UTF-8 if the sample is strict UTF-8; else the CJK codec whose reading of it has the
    fewest lines that do not decode, then looks most like its language.

    Legacy Korean and Japanese bytes almost never form valid UTF-8, so UTF-8 comes first.
    CP949 and CP932 overlap (both are two-byte codes over 0x81-0xFE), so decoding alone
    rarely settles it; but the other language's text read in the wrong codec comes out as
    Hangul syllables outside the 2,350 of everyday Korean (KS X 1001), or as half-width
    katakana and rare kanji, which real names and addresses seldom hold.
    """
    if _decodes(sample, "utf-8"):
        return "utf-8"
    lines = sample.split(b"\n")
    scores = []
    for order, codec in enumerate(("utf-8", "cp949", "cp932")):
        bad = sum(not _decodes(line, codec) for line in lines)
        text = sample.decode(codec, errors="ignore")
        scores.append((bad, -_plausibility(text, codec), order, codec))
    return min(scores)[-1]


def _decodes(data: bytes, codec: str) -> bool:
    """Whether ``data`` is text in ``codec``, forgiving a character cut at its end."""
    try:
        codecs.getincrementaldecoder(codec)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _plausibility(text: str, codec: str) -> int:
    score = _korean_score if codec == "cp949" else _japanese_score if codec == "cp932" else None
    if score is None:
        return 0
    counts = Counter(_NOT_ASCII.findall(text))
    return sum(score(char) * count for char, count in counts.items())


def _korean_score(char: str) -> int:
    if "\uac00" <= char <= "\ud7a3":  # a Hangul syllable: everyday ones are in KS X 1001,
        lead, trail = char.encode("cp949")  # which CP949 codes as 0xB0-0xC8, 0xA1-0xFE
        return 1 if lead >= 0xB0 and trail >= 0xA1 else -1
    return 0


def _japanese_score(char: str) -> int:
    if "\u3041" <= char <= "\u30ff":  # hiragana and katakana
        return 1
    if "\uff61" <= char <= "\uff9f":  # half-width katakana: legacy, and Korean misread
        return -1
    if unicodedata.category(char) == "Lo":  # kanji: JIS level 1 (everyday) leads 0x88-0x9F
        return 1 if 0x88 <= char.encode("cp932", errors="replace")[0] <= 0x9F else -1
    return 0


# Records --------------------------------------------------------------------------------


class _LineFeed:
    """Feeds lines to ``csv.reader``, counting them, and keeps those of the record being
    read, so a spoilt record is reported where it went wrong and the lines after re-read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.replay: deque[str] = deque()
        self.record: list[str] = []
        self.record_start = 1  # the number of the record's first line
        self.next_number = 1
        self.not_text: int | None = None  # index in the record of a line that did not decode
        self.ran_out = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.replay.popleft() if self.replay else next(self.lines, None)
        if line is None:
            self.ran_out = True
            raise StopIteration
        if type(line) is NotText and self.not_text is None:
            self.not_text = len(self.record)
        self.record.append(line)
        self.next_number += 1
        # a last line gets its line break, so that only an open quote ends a record at EOF
        return line if line[-1:] == "\n" else line + "\n"

    def start_record(self) -> None:
        self.record = []
        self.record_start = self.next_number
        self.not_text = None
        self.ran_out = False

    def read_again(self, first: int) -> None:
        """Feed the record's lines from index ``first`` on again, then the file's."""
        self.replay.extendleft(reversed(self.record[first:]))
        self.next_number = self.record_start + first


@dataclass(slots=True)
class Record:
    line: int
    fields: list[str]


class CsvReader:
    """Read a header, then records; problems with a record go to ``report(line, reason)``."""

    def __init__(self, stream: IO[Any], report: Reporter, *, encoding: str | None = None,
                 column_limit: int | None = None) -> None:
        self.decoding, lines = decoded_lines(stream, encoding)
        self.feed = _LineFeed(lines)
        self.reader = csv.reader(self.feed)
        self.report = report
        self.column_limit = column_limit or max_columns()
        self.header: list[str] = []

    def read_header(self) -> list[str]:
        """The header's cells; raises :class:`CsvFileError` if it cannot be read."""
        for record in self._records(_refuse_header):
            self.header = record.fields
            break
        if not self.header:
            raise CsvFileError(_("The file is empty: its first line must name the columns."))
        if len(self.header) > self.column_limit:
            raise CsvFileError(_("Line 1 (the header) has %(count)d columns, more than the "
                                 "limit of %(limit)d (ENVOI_IMPORT_MAX_COLUMNS).") % {
                "count": len(self.header), "limit": self.column_limit})
        return self.header

    def records(self) -> Iterator[Record]:
        """The records after the header; blank lines come as records with no fields."""
        return self._records(self.report)

    def _records(self, report: Reporter) -> Iterator[Record]:
        feed = self.feed
        while True:
            feed.start_record()
            try:
                fields = next(self.reader)
            except StopIteration:
                return
            except UnicodeDecodeError:  # only a text stream raises it: no line to skip
                report(feed.next_number, _("this line is not text in the file's encoding; "
                                               "it and the rest of the file were not imported"))
                return
            except csv.Error as error:
                self._unreadable(report, str(error))
                continue
            if feed.ran_out and feed.record:
                self._never_closed(report)
                continue
            if feed.not_text is not None and self.decoding is not None:
                self._not_text(report, feed.not_text, self.decoding)
                continue
            yield Record(feed.record_start, fields)

    def _unreadable(self, report: Reporter, detail: str) -> None:
        if "field larger than field limit" in detail:
            if _open_quote(self.feed.record) is not None:  # a quoted cell ran on and on
                self._never_closed(report)
                return
            reason = _("a cell is longer than %(limit)d characters") % {
                "limit": csv.field_size_limit()}
        else:
            reason = _("unreadable CSV (%(detail)s)") % {"detail": detail}
        report(self.feed.record_start, reason)

    def _never_closed(self, report: Reporter) -> None:
        """A quote opened and never closed: the row where it opened is refused and the
        lines after it are read again as rows of their own."""
        opened_at, column = _open_quote(self.feed.record) or (0, 0)
        report(self.feed.record_start + opened_at,
               _('column "%(column)s": a quote opens here and is never closed (a quote '
                 'inside a cell is written "")') % {
                   "column": self._column_name(column)})
        self.feed.read_again(opened_at + 1)
        self.reader = csv.reader(self.feed)

    def _not_text(self, report: Reporter, index: int, decoding: Decoding) -> None:
        """Bytes that are not text: the line is named, and the column the byte falls in."""
        record = self.feed.record
        error = cast(NotText, record[index]).error
        before = "".join(record[:index])
        prefix = before + error.object[: error.start].decode(decoding.codec, errors="replace")
        column = max(0, len(next(csv.reader(io.StringIO(prefix)), [""])) - 1)
        detail = {"column": self._column_name(column), "position": error.start + 1,
                  "byte": f"0x{error.object[error.start]:02X}", "encoding": decoding.label,
                  "choices": ENCODING_CHOICES}
        if decoding.detected:
            reason = _('column "%(column)s": byte %(byte)s at position %(position)d is not '
                       "%(encoding)s text (the encoding detected). If the file has another "
                       "encoding, give it: %(choices)s.") % detail
        else:
            reason = _('column "%(column)s": byte %(byte)s at position %(position)d is not '
                       "%(encoding)s text (the encoding given). If the file has another "
                       "encoding, give it: %(choices)s.") % detail
        report(self.feed.record_start + index, reason)

    def _column_name(self, index: int) -> str:
        if index < len(self.header):
            return self.header[index].strip().lstrip("\ufeff")
        return f"#{index + 1}"


def _refuse_header(line: int, reason: str) -> None:
    """The header's problem refuses the file at once (the lines after it are not read)."""
    raise CsvFileError(_("Line 1 (the header) cannot be read: %(reason)s") % {"reason": reason})


def _open_quote(record: list[str]) -> tuple[int, int] | None:
    """(index in ``record``, column index) of the quote left open at the record's end,
    or ``None`` if the record does not end inside a quoted cell.

    Follows the states of Python's ``csv`` module for the default dialect: a cell is
    quoted only if it starts with a quote, and ``""`` inside it is an escaped quote.
    """
    opened = (0, 0)
    column, state = 0, "start"
    for index, line in enumerate(record):
        for char in line:
            if state == "quoted":
                state = "quote?" if char == '"' else "quoted"
            elif state == "quote?" and char == '"':
                state = "quoted"
            elif char == ",":
                column, state = column + 1, "start"
            elif char in "\r\n":
                column, state = 0, "start"
            elif state == "start" and char == '"':
                opened, state = (index, column), "quoted"
            else:
                state = "field"
    return opened if state == "quoted" else None
