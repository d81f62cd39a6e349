"""The text part of an email whose author wrote only HTML.

html2text (maintained, used by Mautic-like tools and Django mailers alike) turns the
HTML into readable text: paragraphs, lists, and links as ``text (url)``-style Markdown
links that keep the address visible. Liquid passes through as text, so the generated
part is personalized exactly like the HTML it came from.
"""

from __future__ import annotations

import re
from functools import lru_cache

import html2text

_CONDITIONAL_COMMENT = re.compile(r"<!--\[if.*?<!\[endif\]-->", re.DOTALL | re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


@lru_cache(maxsize=64)
def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: a long URL must stay one line
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    text = converter.handle(_CONDITIONAL_COMMENT.sub("", html))
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
