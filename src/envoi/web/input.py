"""Input no database can store, found before any view sees it.

PostgreSQL refuses a NUL character in text, and neither database can store a lone UTF-16
surrogate (JSON may spell one as ``"\\ud800"``). Either would surface as a server error
deep inside a query; :func:`first_unstorable` finds them in every query parameter, form
field, JSON body, path and credential, and names where, so that one middleware can refuse
the request with a 400 that says what and where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import HttpRequest

# Text bodies that views read as a stream (CSV imports) are not buffered here: the
# importer reports their rows one by one. JSON and form bodies are always small.
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Unstorable(ValueError):
    """A value no database can store; ``where`` says which one, ``what`` what is wrong,
    and ``field`` names the query parameter or form field it came in, if it did."""

    def __init__(self, where: str, what: str, field: str = ""):
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what
        self.field = field


def fault_of(text: str) -> str | None:
    """What makes ``text`` unstorable, or None."""
    if "\x00" in text:
        return "contains a NUL character, which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not valid Unicode"
    return None


def _json_strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON document, keys included, with its location;
    iterative, so a deeply nested document cannot exhaust the stack."""
    pending: list[tuple[object, str]] = [(value, where)]
    while pending:
        item, at = pending.pop()
        if isinstance(item, str):
            yield at, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield f"{at}.{key!s}", key
                pending.append((child, f"{at}.{key!s}"))
        elif isinstance(item, list):
            pending.extend((child, f"{at}[{index}]") for index, child in enumerate(item))


# (where, field, text): every piece of text a request brings.
Found = tuple[str, str, str]


def _request_strings(request: HttpRequest) -> Iterator[Found]:
    yield "path", "", request.path
    for name, values in request.GET.lists():
        for text in (name, *values):
            yield f"query parameter {name!r}", name, text
    for name, value in request.COOKIES.items():
        yield f"cookie {name!r}", "", value
    yield "Authorization header", "", request.META.get("HTTP_AUTHORIZATION", "")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.content_type or ""
    if content_type in FORM_TYPES:
        for name, values in request.POST.lists():
            for text in (name, *values):
                yield f"form field {name!r}", name, text
    elif content_type in JSON_TYPES:
        yield from _json_body_strings(request)


def _json_body_strings(request: HttpRequest) -> Iterator[Found]:
    try:
        document = json.loads(request.body)
    except RecursionError as error:
        raise Unstorable("body", "is nested too deeply") from error
    except ValueError:
        return  # malformed JSON: the API's parser says so with its own 400
    for where, text in _json_strings(document, "body"):
        yield where, "", text


def first_unstorable(request: HttpRequest) -> Unstorable | None:
    """The first value of the request no database can store, or None. Reading the body
    may raise Django's ``RequestDataTooBig`` or ``TooManyFieldsSent``."""
    try:
        for where, field, text in _request_strings(request):
            fault = fault_of(text)
            if fault is not None:
                return Unstorable(where, fault, field)
    except Unstorable as refused:
        return refused
    return None
