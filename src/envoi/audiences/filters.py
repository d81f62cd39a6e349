r"""The audience filter language: what a marketer types, compiled to parameterised SQL.

    language = "ko" and attributes.vip = true and email ends with "@example.com"

Grammar (keywords are case-insensitive)::

    expr      := or
    or        := and ("or" and)*
    and       := not ("and" not)*
    not       := "not" not | "(" expr ")" | condition
    condition := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
               | field ["not"] "in" "(" value ("," value)* ")"
               | field ("contains" | "starts with" | "ends with") string
               | field "is" ["not"] "empty"
    field     := a profile column | "attributes." key ("." key)*
    value     := string | number | true | false | null     (strings: "...", \" and \\)

Filters come from users, so none of their text becomes SQL text: field names come from a
whitelist, and literals and attribute keys travel as query parameters. Each condition
compiles to TRUE or FALSE, never NULL, so ``not`` selects exactly what the condition
leaves out; mistakes carry a line and column so the console can point at them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from django.utils.translation import gettext_noop as _

from envoi.words import Words

COLUMN_TYPES = {
    "email": "text", "phone": "text", "first_name": "text", "last_name": "text",
    "language": "text", "timezone": "text",
    "email_opt_out": "boolean", "sms_opt_out": "boolean", "is_test": "boolean",
    "created_at": "date", "updated_at": "date", "id": "number",
}  # fmt: skip
KNOWN_FIELDS = ", ".join([*COLUMN_TYPES, "attributes.<key>"])
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
KEYWORDS = frozenset(["and", "or", "not", "in", "contains", "starts", "ends", "with", "is",
                      "empty", "true", "false", "null"])
MAX_DEPTH = 50
MAX_CONDITIONS = 300  # SQLite refuses expressions nested more than 1000 deep
MAX_VALUES = 5000  # and statements with more than 32,766 parameters
ORDERINGS = ("<", "<=", ">", ">=")
COMPARISONS = ("=", "!=", *ORDERINGS)
TEXT_MATCHES = ("contains", "starts with", "ends with")
EMPTINESS = ("is empty", "is not empty")
_OPERATOR_WORDS = [("in",), ("contains",), ("not", "in"), ("starts", "with"), ("ends", "with"),
                   ("is", "empty"), ("is", "not", "empty")]
_SQL_OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LEXEME = re.compile(
    r"(?P<space>\s+)"
    r'|(?P<string>"(?:[^"\\]|\\[\s\S])*")'
    r"|(?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)"
    r"|(?P<op>==|!=|<=|>=|[=<>])"
    r"|(?P<punct>[(),])"
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_FORBIDDEN_IN_STRINGS = re.compile("[\x00\ud800-\udfff]")
_WHOLE_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Value = str | int | float | bool | None


class FilterError(ValueError):
    """A mistake in a filter, located (1-based line and column) so it can be pointed at."""

    def __init__(self, message: str | Words, position: int, text: str = "") -> None:
        self.words = message if isinstance(message, Words) else Words(message)
        self.message = str(message)
        self.position = position
        line_start = text.rfind("\n", 0, position) + 1
        self.line = text.count("\n", 0, position) + 1
        self.column = position - line_start + 1
        super().__init__(f"line {self.line}, column {self.column}: {message}")


@dataclass(frozen=True)
class CompiledFilter:
    """A boolean SQL expression over the profile alias, with ``%s`` placeholders."""

    sql: str
    params: list[Any]


def compile_filter(text: str, vendor: str, alias: str = "p") -> CompiledFilter:
    """Compile ``text`` for ``vendor`` (``connection.vendor``); blank means everyone."""
    if vendor not in ("sqlite", "postgresql"):
        raise ValueError(f"filters compile for sqlite or postgresql, not {vendor!r}")
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"{alias!r} is not a plain SQL table alias")
    if not text.strip():
        return CompiledFilter("1=1", [])
    writer = _SqlWriter(vendor, alias)
    sql = writer.node(_parse(text))
    return CompiledFilter(sql, writer.params)


def check_filter(text: str) -> None:
    """Raise :class:`FilterError` if ``text`` is not a valid filter (types included)."""
    if text.strip():
        _parse(text)


# Syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    type: str  # text, boolean, date, number, json
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Moment:
    """A point in time, or a whole day when ``end`` is set (``created_at = "2024-05-31"``)."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class _Condition:
    field: _Field
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class _Junction:
    op: str  # AND or OR
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Negation:
    part: _Node


_Node = _Condition | _Junction | _Negation


# Tokens ---------------------------------------------------------------------------------


class _Problem(Exception):
    """Raised inside the parser; :func:`_parse` turns it into a located FilterError."""

    def __init__(self, template: str, position: int, **values: Any) -> None:
        self.message = Words(template, **values)
        super().__init__(str(self.message))
        self.position = position


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, number, op, punct, end
    text: str
    position: int
    value: Value = None

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def is_punct(self, char: str) -> bool:
        return self.kind == "punct" and self.text == char

    def describe(self) -> Words:
        if self.kind == "end":
            return Words(_("the end of the filter"))
        if self.kind == "string":
            return Words(_("the string %(text)s"), text=self.text[:40])
        return Words('"%(text)s"', text=self.text[:40])


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _LEXEME.match(text, position)
        if match is None:
            raise _unexpected_character(text, position)
        kind, lexeme = match.lastgroup or "", match.group()
        if lexeme == "==":
            raise _Problem(_("use = to compare, not =="), position)
        if kind != "space":
            tokens.append(_Token(kind, lexeme, position, _decode(kind, lexeme, position)))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _decode(kind: str, lexeme: str, position: int) -> Value:
    if kind == "string":
        for escape in _ESCAPE.finditer(lexeme):
            if escape.group(1) not in '"\\':
                raise _Problem(_('unknown escape: write \\" for a quote, \\\\ for a '
                                 'backslash'), position + escape.start())
        if bad := _FORBIDDEN_IN_STRINGS.search(lexeme):
            raise _Problem(_("strings cannot hold NUL or unpaired surrogates"),
                           position + bad.start())
        return _ESCAPE.sub(r"\1", lexeme[1:-1])
    if kind == "number":
        return _number(lexeme, position)
    return None


def _number(lexeme: str, position: int) -> int | float:
    if re.fullmatch(r"-?[0-9]+", lexeme):
        if len(lexeme.lstrip("-").lstrip("0")) <= 19 and -(2**63) <= int(lexeme) < 2**63:
            return int(lexeme)
    elif math.isfinite(number := float(lexeme)):
        return number
    raise _Problem(_("number is too large"), position)


def _unexpected_character(text: str, position: int) -> _Problem:
    char = text[position]
    if char == '"':
        return _Problem(_('unterminated string: it needs a closing "'), position)
    if char == "'":
        return _Problem(_('strings use double quotes: "like this"'), position)
    return _Problem(_('unexpected character "%(char)s"'), position,
                    char=char if char.isprintable() else ascii(char))


# Parser ---------------------------------------------------------------------------------


def _parse(text: str) -> _Node:
    try:
        return _Parser(text).parse()
    except _Problem as problem:
        raise FilterError(problem.message, problem.position, text) from None


class _Parser:
    """Recursive descent over the grammar in the module docstring, with bounded depth."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.conditions = 0
        self.values = 0

    def parse(self) -> _Node:
        node = self.parse_or(0)
        if self.peek().kind != "end":
            hint = (_("it has no matching (") if self.peek().is_punct(")")
                    else _("join with and/or"))
            raise _Problem(_("unexpected %(found)s: %(hint)s"), self.peek().position,
                           found=self.peek().describe(), hint=Words(hint))
        return node

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, word: str) -> bool:
        if self.peek().is_word(word) or self.peek().is_punct(word):
            self.advance()
            return True
        return False

    def expected(self, template: str, **values: Any) -> _Problem:
        return _Problem(_("expected %(what)s, found %(found)s"), self.peek().position,
                        what=Words(template, **values), found=self.peek().describe())

    def deeper(self, depth: int, token: _Token) -> int:
        if depth >= MAX_DEPTH:
            raise _Problem(_("filter is nested more than %(depth)s levels deep"),
                           token.position, depth=MAX_DEPTH)
        return depth + 1

    def parse_or(self, depth: int) -> _Node:
        parts = [self.parse_and(depth)]
        while self.accept("or"):
            parts.append(self.parse_and(depth))
        return parts[0] if len(parts) == 1 else _Junction("OR", tuple(parts))

    def parse_and(self, depth: int) -> _Node:
        parts = [self.parse_not(depth)]
        while self.accept("and"):
            parts.append(self.parse_not(depth))
        return parts[0] if len(parts) == 1 else _Junction("AND", tuple(parts))

    def parse_not(self, depth: int) -> _Node:
        token = self.peek()
        if self.accept("not"):
            return _Negation(self.parse_not(self.deeper(depth, token)))
        if not self.accept("("):
            return self.parse_condition()
        node = self.parse_or(self.deeper(depth, token))
        if not self.accept(")"):
            opened = FilterError("", token.position, self.text)
            raise self.expected(_(") to close the ( at line %(line)s, column %(column)s"),
                                line=opened.line, column=opened.column)
        return node

    def parse_condition(self) -> _Condition:
        token = self.peek()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _Problem(_("a filter holds at most %(number)s conditions"), token.position,
                           number=MAX_CONDITIONS)
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise self.expected(_("a field name such as email or attributes.city"))
        field = _resolve_field(self.advance())
        operator_position = self.peek().position
        op = self.parse_operator(field)
        literals = self.parse_operands(op)
        self.values += len(literals)
        if self.values > MAX_VALUES:
            raise _Problem(_("a filter holds at most %(number)s values; use a static list "
                             "audience for longer lists"), literals[-1].position,
                           number=MAX_VALUES)
        values = _TYPE_CHECKS[field.type](field, op, operator_position, literals)
        return _Condition(field, op, values)

    def parse_operator(self, field: _Field) -> str:
        if self.peek().kind == "op":
            return self.advance().text
        for words in _OPERATOR_WORDS:
            following = self.tokens[self.index : self.index + len(words)]
            if [token.text.lower() if token.kind == "word" else "" for token in following] \
                    == list(words):
                self.index += len(words)
                return " ".join(words)
        first = self.advance() if self.peek().is_word("not", "starts", "ends", "is") else None
        if first is not None:
            rest = [" ".join(words[1:]) for words in _OPERATOR_WORDS if first.is_word(words[0])]
            raise self.expected(_("%(words)s after %(first)s"), words=" or ".join(rest),
                                first=first.text)
        raise self.expected(_("an operator after %(field)s (=, !=, <, <=, >, >=, in, not in, "
                              "contains, starts with, ends with, is empty, is not empty)"),
                            field=field.name)

    def parse_operands(self, op: str) -> list[_Literal]:
        if op in EMPTINESS:
            return []
        if op in TEXT_MATCHES and self.peek().kind != "string":
            raise self.expected(_("a string after %(op)s"), op=op)
        if op not in ("in", "not in"):
            return [self.parse_value()]
        if not self.accept("("):
            raise self.expected(_('( after %(op)s, as in language in ("ko", "ja")'), op=op)
        values = [self.parse_value()]
        while self.accept(","):
            values.append(self.parse_value())
        if not self.accept(")"):
            raise self.expected(_(", or ) in the %(op)s list"), op=op)
        return values

    def parse_value(self) -> _Literal:
        token = self.peek()
        if token.kind == "word" and token.text.lower() not in KEYWORDS:
            raise self.expected(_('a value; text goes in double quotes, as in "%(text)s"'),
                                text=token.text)
        if token.kind not in ("string", "number") and not token.is_word("true", "false", "null"):
            raise self.expected(_('a value (a "string", a number, true, false or null)'))
        self.advance()
        constants = {"true": True, "false": False, "null": None}
        value = token.value if token.kind != "word" else constants[token.text.lower()]
        return _Literal(value, token.position)


@dataclass(frozen=True)
class _Literal:
    value: Value
    position: int


def _resolve_field(token: _Token) -> _Field:
    name = token.text
    if name in COLUMN_TYPES:
        return _Field(name, COLUMN_TYPES[name])
    head, _dot, rest = name.partition(".")
    if head != "attributes":
        raise _Problem(_('unknown field "%(name)s"; known fields: %(known)s'), token.position,
                       name=name, known=KNOWN_FIELDS)
    if not rest:
        raise _Problem(_("name the attribute, as in attributes.city"), token.position)
    offset = token.position + len("attributes.")
    for key in rest.split("."):
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise _Problem(_('attribute key "%(key)s" must start with a letter or _ and hold '
                             'only letters, digits, _ and -'), offset, key=key)
        offset += len(key) + 1
    return _Field(name, "json", tuple(rest.split(".")))


# Type checks: each returns the values to compile, or raises at the offending token ------


def _check_text(field: _Field, op: str, where: int, literals: list[_Literal]) -> tuple:
    for literal in literals:
        if not isinstance(literal.value, str):
            if literal.value is None:
                raise _Problem(_('%(field)s is text; compare it with a string; to find '
                                 'missing values use "is empty"'), literal.position,
                               field=field.name)
            raise _Problem(_("%(field)s is text; compare it with a string"), literal.position,
                           field=field.name)
    return tuple(literal.value for literal in literals)


def _check_boolean(field: _Field, op: str, where: int, literals: list[_Literal]) -> tuple:
    if op not in ("=", "!="):
        raise _Problem(_("%(field)s is true or false; compare it with = or !="), where,
                       field=field.name)
    if not isinstance(literals[0].value, bool):
        raise _Problem(_("expected true or false: %(field)s is a yes/no field"),
                       literals[0].position, field=field.name)
    return (literals[0].value,)


def _check_number(field: _Field, op: str, where: int, literals: list[_Literal]) -> tuple:
    if op not in (*COMPARISONS, "in", "not in"):
        raise _Problem(_("%(field)s is a number; compare it with =, !=, <, <=, >, >= or in"),
                       where, field=field.name)
    for literal in literals:
        if type(literal.value) is not int:
            raise _Problem(_("%(field)s is a whole number; compare it with a number such "
                             "as 42"), literal.position, field=field.name)
    return tuple(literal.value for literal in literals)


def _check_date(field: _Field, op: str, where: int, literals: list[_Literal]) -> tuple:
    if op not in COMPARISONS:
        raise _Problem(_("%(field)s is a date; compare it with =, !=, <, <=, > or >="), where,
                       field=field.name)
    value, position = literals[0].value, literals[0].position
    example = '"2024-05-31" or "2024-05-31T09:00:00+09:00"'
    if not isinstance(value, str):
        raise _Problem(_("%(field)s is a date; compare it with a string such as %(example)s"),
                       position, field=field.name, example=example)
    try:
        return (_moment(value.strip()),)
    except (ValueError, OverflowError):
        raise _Problem(_("%(field)s needs an ISO date such as %(example)s"), position,
                       field=field.name, example=example) from None


def _moment(text: str) -> _Moment:
    """A date alone means that whole day in UTC; a time without an offset is UTC too."""
    if _WHOLE_DAY.fullmatch(text):
        start = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        return _Moment(start, start + timedelta(days=1))
    moment = datetime.fromisoformat(text)
    return _Moment((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC),
                   None)


def _check_json(field: _Field, op: str, where: int, literals: list[_Literal]) -> tuple:
    for literal in literals:
        value = literal.value
        if op in ORDERINGS and (value is None or isinstance(value, bool)):
            shown = "null" if value is None else str(value).lower()
            raise _Problem(_("%(value)s can only be compared with = or !="), literal.position,
                           value=shown)
    return tuple(literal.value for literal in literals)


_TYPE_CHECKS: dict[str, Callable[[_Field, str, int, list[_Literal]], tuple]] = {
    "text": _check_text, "boolean": _check_boolean, "number": _check_number,
    "date": _check_date, "json": _check_json,
}  # fmt: skip


# SQL ------------------------------------------------------------------------------------


class _SqlWriter:
    """Writes SQL left to right, appending each parameter as its placeholder is written."""

    def __init__(self, vendor: str, alias: str) -> None:
        self.postgres = vendor == "postgresql"
        self.alias = alias
        self.params: list[Any] = []
        self.string_types = ("string",) if self.postgres else ("text",)
        self.number_types = ("number",) if self.postgres else ("integer", "real")

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def node(self, node: _Node) -> str:
        if isinstance(node, _Junction):
            return "(" + f" {node.op} ".join(self.node(part) for part in node.parts) + ")"
        if isinstance(node, _Negation):
            return f"NOT ({self.node(node.part)})"
        if node.field.type == "json":
            return self.json_condition(node)
        return self.column_condition(node)

    def column_condition(self, condition: _Condition) -> str:
        column, op, values = f"{self.alias}.{condition.field.name}", condition.op, condition.values
        if op in EMPTINESS:
            return f"COALESCE({column}, '') {'=' if op == 'is empty' else '<>'} ''"
        if op in ("in", "not in"):
            placeholders = ", ".join(self.param(value) for value in values)
            return f"{column} {op.upper()} ({placeholders})"
        if op in TEXT_MATCHES:
            return self.like(column, op, values[0])
        if condition.field.type == "date":
            return self.date_comparison(column, op, values[0])
        return f"{column} {_SQL_OPERATORS[op]} {self.param(values[0])}"

    def like(self, expression: str, op: str, needle: str) -> str:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"contains": f"%{escaped}%", "starts with": f"{escaped}%"}.get(op, f"%{escaped}")
        return f"lower({expression}) LIKE lower({self.param(pattern)}) ESCAPE '\\'"

    def date_comparison(self, column: str, op: str, moment: _Moment) -> str:
        start = self.timestamp(moment.start)
        if moment.end is None:
            return f"{column} {_SQL_OPERATORS[op]} {self.param(start)}"
        end = self.timestamp(moment.end)
        if op == "=":
            return f"({column} >= {self.param(start)} AND {column} < {self.param(end)})"
        if op == "!=":
            return f"({column} < {self.param(start)} OR {column} >= {self.param(end)})"
        bound = {"<": ("<", start), "<=": ("<", end), ">": (">=", end), ">=": (">=", start)}
        operator, value = bound[op]
        return f"{column} {operator} {self.param(value)}"

    def timestamp(self, moment: datetime) -> Any:
        """PostgreSQL takes aware datetimes; Django stores SQLite's as naive UTC text."""
        return moment if self.postgres else str(moment.replace(tzinfo=None))

    # JSON attributes: every path goes in as a parameter, never into the SQL text.

    def json_path(self, path: tuple[str, ...]) -> str:
        if self.postgres:
            return f"{self.param(list(path))}::text[]"
        return self.param("$" + "".join(f'."{key}"' for key in path))

    def json_type(self, path: tuple[str, ...]) -> str:
        if self.postgres:
            return f"jsonb_typeof({self.alias}.attributes #> {self.json_path(path)})"
        return f"json_type({self.alias}.attributes, {self.json_path(path)})"

    def json_text(self, path: tuple[str, ...]) -> str:
        if self.postgres:
            return f"({self.alias}.attributes #>> {self.json_path(path)})"
        return f"json_extract({self.alias}.attributes, {self.json_path(path)})"

    def json_number(self, path: tuple[str, ...]) -> str:
        return f"{self.json_text(path)}::numeric" if self.postgres else self.json_text(path)

    def guarded(self, types: tuple[str, ...], path: tuple[str, ...],
                test: Callable[[], str]) -> str:
        """Run ``test`` only on values of the right JSON type: PostgreSQL would raise when
        casting a string to numeric, and a missing key must read as FALSE, not NULL."""
        kind = self.json_type(path)
        listed = ", ".join(f"'{name}'" for name in types)
        return f"CASE WHEN {kind} IN ({listed}) THEN {test()} ELSE FALSE END"

    def json_condition(self, condition: _Condition) -> str:
        path, op, values = condition.field.path, condition.op, condition.values
        if op in EMPTINESS:
            return f"COALESCE({self.json_text(path)}, '') {'=' if op == 'is empty' else '<>'} ''"
        if op in TEXT_MATCHES:
            return self.guarded(self.string_types, path,
                                lambda: self.like(self.json_text(path), op, values[0]))
        if op in ORDERINGS:
            return self.json_ordering(path, op, values[0])
        matched = self.json_one_of(path, values)
        return f"NOT {matched}" if op in ("!=", "not in") else matched

    def json_ordering(self, path: tuple[str, ...], op: str, value: Any) -> str:
        if isinstance(value, str):
            return self.guarded(self.string_types, path,
                                lambda: f"{self.json_text(path)} {op} {self.param(value)}")
        return self.guarded(self.number_types, path,
                            lambda: f"{self.json_number(path)} {op} {self.param(value)}")

    def json_one_of(self, path: tuple[str, ...], values: tuple[Value, ...]) -> str:
        """Equality that respects JSON types ("30" is not 30, true is not 1). Values are
        grouped by type so a long list stays one IN, not a chain of ORs too deep for SQLite."""
        tests = []
        if None in values:
            tests.append(f"COALESCE({self.json_type(path)}, 'null') = 'null'")
        for flag in (True, False):
            if any(value is flag for value in values):
                tests.append(self.json_boolean(path, flag))
        strings = [value for value in values if isinstance(value, str)]
        numbers = [value for value in values if type(value) in (int, float)]
        for group, types, read in ((strings, self.string_types, self.json_text),
                                   (numbers, self.number_types, self.json_number)):
            if group:
                tests.append(self.guarded(types, path, partial(self.one_of, read, path, group)))
        return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"

    def one_of(self, read: Callable[[tuple[str, ...]], str], path: tuple[str, ...],
               values: list[Any]) -> str:
        return f"{read(path)} IN ({', '.join(self.param(value) for value in values)})"

    def json_boolean(self, path: tuple[str, ...], flag: bool) -> str:
        literal = "true" if flag else "false"
        if self.postgres:
            node = f"{self.alias}.attributes #> {self.json_path(path)}"
            return f"COALESCE({node} = '{literal}'::jsonb, FALSE)"
        return f"COALESCE({self.json_type(path)} = '{literal}', FALSE)"
