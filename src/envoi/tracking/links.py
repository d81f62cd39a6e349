"""Which links of a delivery's HTML are tracked, and the template that tracks them.

One function, :func:`rewrite_html`, reads the HTML *template source* (before Liquid)
and is used twice: at preparation, to store the delivery's ``TrackedLink`` rows, and
when a renderer is built, to cut the template at each tracked ``href`` value (and where
the open pixel goes) into numbered slots that the renderer fills per recipient. Both
read the same source with the same function, so link ``7`` means the same link to the
message and to the redirect.

A link is tracked when it sits in an ``<a>`` tag and its ``href`` is

* an ``http(s)`` URL with a host, or
* Liquid that depends on the profile alone (``https://shop.example/{{ first_name }}``,
  ``{{ attributes.offer_url }}``): a click renders it again for that profile.

Left as written: ``mailto:``, ``tel:``, ``#anchors``, anything naming
``unsubscribe_url`` or ``mirror_url``, Liquid that depends on something else (a loop
variable) or does not parse on its own, tags whose attributes are themselves made by
Liquid, and any ``<a>`` carrying the ``data-envoi-notrack`` attribute.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from liquid.exceptions import LiquidError

from envoi.deliveries.content import PROFILE_GLOBALS, environment

NOTRACK_ATTRIBUTE = "data-envoi-notrack"

_LIQUID = r"\{\{.*?\}\}|\{%.*?%\}"
_DOUBLE = rf'"(?:{_LIQUID}|[^"])*+"'
_SINGLE = rf"'(?:{_LIQUID}|[^'])*+'"
_A_TAG = re.compile(rf"<a(?=[\s/>])(?:{_LIQUID}|{_DOUBLE}|{_SINGLE}|[^>\"'])*+>",
                    re.IGNORECASE | re.DOTALL)
_ATTRIBUTE = re.compile(
    rf"""([^\s"'<>/=]+)(?:\s*=\s*({_DOUBLE}|{_SINGLE}|(?:{_LIQUID}|[^\s"'=<>`])++))?""",
    re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    """A tracked link: its position among tracked links and its ``href`` as written
    (still HTML-escaped, possibly Liquid)."""

    index: int
    url: str
    personalized: bool


@dataclass(frozen=True)
class _Href:
    start: int  # of the attribute value in the source, quotes included
    end: int
    source: str  # unquoted, as written
    quote: str  # as written; '"' for an unquoted value


@dataclass(frozen=True)
class RewrittenHtml:
    """The template source cut at its slots: ``pieces`` holds source text and slot
    numbers, link ``i`` being slot ``i`` and the open pixel slot ``len(links)``."""

    pieces: tuple[str | int, ...]
    links: tuple[Link, ...]

    def source(self, slot_text: Callable[[int], str]) -> str:
        """The template with each slot replaced by ``slot_text(slot)``."""
        return "".join(p if isinstance(p, str) else slot_text(p) for p in self.pieces)


def tracked_links(html_source: str) -> tuple[Link, ...]:
    return rewrite_html(html_source).links


@lru_cache(maxsize=64)
def rewrite_html(html_source: str) -> RewrittenHtml:
    """Cut the template at each tracked ``href`` value and where the pixel goes."""
    links: list[Link] = []
    cuts: list[tuple[int, int, int, str]] = []  # (start, end, slot, quote)
    for href in _hrefs(html_source):
        personalized = _tracked_kind(href.source)
        if personalized is not None:
            cuts.append((href.start, href.end, len(links), href.quote))
            links.append(Link(len(links), href.source, personalized))
    at = _pixel_position(html_source)
    cuts.append((at, at, len(links), ""))
    pieces: list[str | int] = []
    done = 0
    for start, end, slot, quote in sorted(cuts):
        pieces += [html_source[done:start] + quote, slot, quote]
        done = end
    pieces.append(html_source[done:])
    return RewrittenHtml(tuple(pieces), tuple(links))


def _pixel_position(source: str) -> int:
    """Just before the last ``</body>``, or at the very end."""
    ends = list(_BODY_END.finditer(source))
    return ends[-1].start() if ends else len(source)


def _hrefs(source: str) -> Iterator[_Href]:
    """The ``href`` of every ``<a>`` tag that could be tracked, in document order."""
    for tag in _A_TAG.finditer(source):
        attributes = list(_ATTRIBUTE.finditer(tag.group(), 2, len(tag.group()) - 1))
        names = [a.group(1).lower() for a in attributes]
        if NOTRACK_ATTRIBUTE in names or any("{" in n or "}" in n for n in names):
            continue
        hrefs = [a for a, name in zip(attributes, names, strict=True) if name == "href"]
        if len(hrefs) != 1 or hrefs[0].group(2) is None:
            continue
        value = hrefs[0].group(2)
        start = tag.start() + hrefs[0].start(2)
        if value[:1] in ("'", '"'):
            yield _Href(start, start + len(value), value[1:-1], value[0])
        else:
            yield _Href(start, start + len(value), value, '"')


def _tracked_kind(href: str) -> bool | None:
    """``False`` for a plain tracked URL, ``True`` for a personalized one, ``None`` when
    the link stays as written."""
    text = href.strip()
    if text[:1] == "#" or text[:7].lower() == "mailto:" or text[:4].lower() == "tel:":
        return None
    if "{{" in text or "{%" in text:
        return True if depends_on_profile_only(text) else None
    return False if is_web_url(html.unescape(text)) else None


def depends_on_profile_only(source: str) -> bool:
    try:
        analysis = environment.from_string(source).analyze()
    except LiquidError:
        return False
    return set(analysis.globals) <= PROFILE_GLOBALS


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host: the only kind a click may redirect to."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
