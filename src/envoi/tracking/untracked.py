"""Messages as the console shows them: viewing a message in the console never counts.

The outbox frame and the mirror page opened from the console show a message with its
tracking taken out *before* the browser sees it: the open pixel loads nothing, each
tracked link points straight at its destination, and the mirror link carries the
console's marker. Nothing depends on cookies or on who is signed in, so a console user's
look at a message can never reach the tracking log, whatever browser or tab they use.
"""

from __future__ import annotations

import html
import re

from django.conf import settings

from envoi.tracking import services, tokens

# The query that marks a mirror page opened from the console: it records nothing.
CONSOLE_MARKER = "from=console"
_URL_ATTRIBUTE = re.compile(
    r"""\b(?P<name>src|href)(?P<eq>\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""",
    re.IGNORECASE | re.DOTALL)
# What a removed pixel loads instead: an empty image, from nowhere.
EMPTY_IMAGE = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="


def untracked(source: str, base: str | None = None) -> str:
    """``source`` (a message's HTML) with its open pixel, tracked links and mirror link
    neutralised; other URLs are left as they are."""
    prefix = (base or settings.ENVOI_BASE_URL).rstrip("/") + "/"

    def replace(match: re.Match[str]) -> str:
        url = html.unescape(match["url"])
        if not url.startswith(prefix):
            return match[0]
        kind, _, token = url[len(prefix):].partition("/")
        found = _neutral(kind, token, url)
        if found is None:
            return match[0]
        return f'{match["name"]}{match["eq"]}"{html.escape(found)}"'

    return _URL_ATTRIBUTE.sub(replace, source)


def _neutral(kind: str, token: str, url: str) -> str | None:
    if kind == "o":
        return EMPTY_IMAGE
    if kind == "c":
        try:
            return services.click_target(tokens.read_click(token))
        except tokens.BadToken:
            return "about:blank"
    if kind == "m" and token != "proof":
        return f"{url}{'&' if '?' in url else '?'}{CONSOLE_MARKER}"
    return None


def untracked_text(text: str, base: str | None = None) -> str:
    """An SMS's text with each short link (``/s/<token>``) replaced by where it leads,
    so that following it from the console counts nothing."""
    from envoi.tracking import short

    prefix = re.escape((base or settings.ENVOI_BASE_URL).rstrip("/") + short.PATH)

    def replace(match: re.Match[str]) -> str:
        try:
            return services.click_target(short.message_ref(match[1]))
        except tokens.BadToken:
            return match[0]

    return re.sub(prefix + r"([A-Za-z0-9_-]+)", replace, text)


def from_console(query: dict) -> bool:
    """Whether a tracking request carries the console's marker."""
    return query.get("from") == "console"
