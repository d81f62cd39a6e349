"""Typed attribute columns: a CSV cell is text; a profile attribute is a JSON value.

A column's type is either declared (a header suffix such as ``attributes.vip:boolean``,
or a mapping given to the API, the CLI or the console) or inferred from the first
:data:`INFER_SAMPLE` rows of the file. Either way the whole column has one type, so a
filter such as ``attributes.vip = true`` or ``attributes.age >= 30`` matches every
imported row, and a later cell that does not fit is refused with its line, not stored as
text beside numbers.

Types and what they store:

- ``boolean``: true/false, yes/no, 1/0 (any case) → JSON ``true``/``false``;
- ``number``: ``42``, ``-3.5`` → a JSON number (an integer when it has no fraction);
- ``date``: ``2026-03-01`` (ISO 8601) → the text ``"2026-03-01"``, which orders and
  compares correctly as text in filters (``attributes.since >= "2026-01-01"``);
- ``string``: the text as written.

Inference is careful with look-alikes: ``007`` or ``01012345678`` (codes, phone numbers)
stay strings because a leading zero would be lost as a number, and ``1``/``0`` alone
infer a number, not a boolean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

TYPES = ("string", "number", "boolean", "date")
INFER_SAMPLE = 1000
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
_INFERRED_BOOLEANS = {"true", "false", "yes", "no"}
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")  # no leading zero: "007" is a code
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AttributeTypeError(ValueError):
    """A declared type that Envoi does not know."""


def check_type(name: str) -> str:
    kind = name.strip().lower()
    if kind not in TYPES:
        raise AttributeTypeError(_('unknown attribute type "%(type)s"; use one of %(types)s')
                                 % {"type": name[:40], "types": ", ".join(TYPES)})
    return kind


def infer(values: Iterable[str]) -> str:
    """The one type every non-empty value fits, most specific first; ``string`` if mixed."""
    seen = [value.strip() for value in values if value.strip()]
    if not seen:
        return "string"
    if all(value.lower() in _INFERRED_BOOLEANS for value in seen):
        return "boolean"
    if all(_PLAIN_NUMBER.fullmatch(value) for value in seen):
        return "number"
    if all(_is_date(value) for value in seen):
        return "date"
    return "string"


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _boolean(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise ValueError(_("is not true or false (also yes/no, 1/0)")) from None


def _number(text: str) -> int | float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(_("is not a number such as 42 or -3.5"))
    number = float(text)
    return int(text) if "." not in text else number


def _date(text: str) -> str:
    if not _is_date(text):
        raise ValueError(_("is not a date written YYYY-MM-DD"))
    return text


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "string": lambda text: text, "number": _number, "boolean": _boolean, "date": _date,
}  # fmt: skip


def convert(column: str, kind: str, text: str) -> Any:
    """The cell's JSON value; raises ValueError naming the column, the value and the type."""
    if kind == "string":
        return text
    try:
        return _CONVERTERS[kind](text.strip())
    except ValueError as error:
        shown = text[:40]
        raise ValueError(_('%(column)s: "%(value)s" %(problem)s (the column holds %(type)s '
                           "values)") % {"column": column, "value": shown, "problem": error,
                                         "type": _type_label(kind)}) from None


def _type_label(kind: str) -> str:
    return {"number": _("number"), "boolean": _("boolean"), "date": _("date")}[kind]
