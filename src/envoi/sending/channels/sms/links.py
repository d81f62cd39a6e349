"""Tracked links of an SMS: which URLs of a text are shortened, and the texts of a
delivery's language variants.

A delivery that tracks its links (``Delivery.track_links``) has every web address of
its SMS text replaced, per recipient, by a short signed link (:mod:`envoi.tracking.short`)
that redirects to it. The addresses are found in the *template source*, before Liquid,
by one function used twice, as email's are (:mod:`envoi.tracking.links`): at
preparation, to store the delivery's ``TrackedLink`` rows, and by the renderer, to cut
the text at each address. So link ``i`` means the same to the message and to the
redirect. Links are numbered across variants: the default's first, then each
language's in order, as email's are.

A URL is ``http(s)://`` followed by anything but spaces, quotes and angle brackets;
Liquid output inside it (``https://shop.example/{{ attributes.code }}``) makes it a
personalized link, which the redirect renders again for the recipient, as long as it
depends on the profile alone (else it is left as written, untracked). Punctuation
that ends a sentence (``.,;:!?)``) is not part of the URL.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from envoi.content.authoring import DEFAULT, variants_of
from envoi.deliveries.models import Delivery
from envoi.tracking.links import Link, depends_on_profile_only, is_web_url

_URL = re.compile(r"https?://(?:\{\{.*?\}\}|[^\s{}<>\"'])+", re.IGNORECASE)
_TRAILING = ".,;:!?)]"


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    link: Link


def found_links(text: str, first_index: int = 0) -> list[Found]:
    """The tracked URLs of an SMS template source, numbered from ``first_index``.
    ``Link.url`` is stored HTML-escaped, as email's links are (the redirect unescapes)."""
    found: list[Found] = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING:
            url = url[:-1]
        personalized = "{{" in url or "{%" in url
        if personalized and not depends_on_profile_only(url):
            continue
        if not personalized and not is_web_url(url):
            continue
        link = Link(first_index + len(found), html.escape(url, quote=False), personalized)
        found.append(Found(match.start(), match.start() + len(url), link))
    return found


def variant_texts(delivery: Delivery) -> list[tuple[str, str]]:
    """(language, text) of each variant, the default (``""``) first; a variant without
    a text of its own sends the default's."""
    variants = variants_of(delivery)
    default = delivery.text_body
    return [(DEFAULT, default)] + [(v.language, v.text_body if v.text_body.strip()
                                    else default) for v in variants[1:]]


def delivery_links(delivery: Delivery) -> list[Link]:
    """Every tracked link of an SMS delivery, numbered across its variants (none when
    it does not track its links)."""
    if not delivery.track_links:
        return []
    links: list[Link] = []
    for _language, text in variant_texts(delivery):
        links += [found.link for found in found_links(text, len(links))]
    return links
