"""MJML to HTML with MRML (the Rust implementation of MJML), once per saved content.

MRML is lenient: it renders a misspelt element or a stray closing tag without a word,
and its parse errors carry no position through the Python binding. So the source is
first read by a small structural check (the standard library's HTML tokenizer, which
knows line and column) that reports unknown elements, closing tags that close nothing,
and elements left open, each where it stands; MRML's own errors and warnings come after.

Liquid survives compilation: ``{{ … }}`` and ``{% … %}`` are plain text to MRML, in
element content and in attribute values alike (tests/content/test_mjml.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

import mrml

from envoi.deliveries.content import line_and_column

# The elements of MJML 4 (mjml.io/documentation); anything else named mj-* is a typo.
MJML_ELEMENTS = frozenset({
    "mjml", "mj-head", "mj-body", "mj-attributes", "mj-all", "mj-class", "mj-breakpoint",
    "mj-font", "mj-html-attributes", "mj-html-attribute", "mj-selector", "mj-preview",
    "mj-style", "mj-title", "mj-include", "mj-accordion", "mj-accordion-element",
    "mj-accordion-title", "mj-accordion-text", "mj-button", "mj-carousel",
    "mj-carousel-image", "mj-column", "mj-divider", "mj-group", "mj-hero", "mj-image",
    "mj-navbar", "mj-navbar-link", "mj-raw", "mj-section", "mj-social",
    "mj-social-element", "mj-spacer", "mj-table", "mj-text", "mj-wrapper",
})
# HTML elements that never have a closing tag.
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input",
                           "link", "meta", "source", "track", "wbr"})
# MJML elements whose content is raw HTML (ending tags inside need not balance).
ENDING_ELEMENTS = frozenset({"mj-text", "mj-button", "mj-table", "mj-raw",
                             "mj-navbar-link", "mj-accordion-title", "mj-accordion-text",
                             "mj-social-element", "mj-style", "mj-preview", "mj-title"})


@dataclass(frozen=True)
class MjmlProblem:
    message: str
    line: int
    column: int


@dataclass(frozen=True)
class MjmlResult:
    html: str
    problems: tuple[MjmlProblem, ...]


class _Structure(HTMLParser):
    """Tag balance and element names of an MJML document, with positions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int, int]] = []
        self.problems: list[MjmlProblem] = []

    def _inside_ending(self) -> bool:
        return any(name in ENDING_ELEMENTS for name, _, _ in self.open)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        line, offset = self.getpos()
        if tag.startswith("mj") and tag not in MJML_ELEMENTS and not self._inside_ending():
            self.problems.append(MjmlProblem(f"unknown MJML element <{tag}>", line,
                                             offset + 1))
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, line, offset + 1))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass  # <mj-image … /> opens and closes at once

    def handle_endtag(self, tag: str) -> None:
        line, offset = self.getpos()
        names = [name for name, _, _ in self.open]
        if tag in names:
            while self.open:
                name, open_line, open_column = self.open.pop()
                if name == tag:
                    return
                if not (name not in MJML_ELEMENTS and self._inside_ending()):
                    self.problems.append(MjmlProblem(
                        f"<{name}> is not closed before </{tag}>", open_line, open_column))
            return
        if tag in VOID_ELEMENTS or (self._inside_ending() and not tag.startswith("mj")):
            return
        self.problems.append(MjmlProblem(f"</{tag}> closes no open element", line,
                                         offset + 1))

    def finish(self) -> list[MjmlProblem]:
        self.close()
        for name, line, column in self.open:
            if name in MJML_ELEMENTS:
                self.problems.append(MjmlProblem(f"<{name}> is never closed", line, column))
        return self.problems


def structure_problems(source: str) -> list[MjmlProblem]:
    checker = _Structure()
    checker.feed(source)
    problems = checker.finish()
    if source.strip() and "<mjml" not in source.lower():
        problems.insert(0, MjmlProblem("an MJML document starts with <mjml>", 1, 1))
    return problems


@lru_cache(maxsize=64)
def compile_mjml(source: str) -> MjmlResult:
    """The HTML of an MJML document, and every problem found, with line and column.

    With problems, ``html`` is whatever MRML still produced (possibly empty): a draft
    is saved with its errors, and preparation refuses it.
    """
    problems = structure_problems(source)
    try:
        output = mrml.to_html(source)
    except (OSError, ValueError) as error:
        line, column = (problems[0].line, problems[0].column) if problems else (1, 1)
        return MjmlResult("", (*problems, MjmlProblem(f"MJML: {error}", line, column)))
    problems += [MjmlProblem(f"MJML: {warning.kind}",
                             *line_and_column(source, int(warning.start)))
                 for warning in output.warnings]
    return MjmlResult(output.content, tuple(problems))
