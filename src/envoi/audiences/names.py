"""A profile's name as people of its language write it.

Korean, Japanese and Chinese names are written family name first, with the given name
after it ("박 유나", "田中 さくら"); other languages write the given name first ("Ada
Lovelace"). The console, profile search and the ``To:`` header all say a name through
:func:`display_name`, so it reads the same everywhere. It is a few string operations:
cheap enough for the sending hot path.
"""

from __future__ import annotations

# Languages (the primary subtag of a profile's language) that put the family name first.
FAMILY_NAME_FIRST = frozenset({"ko", "ja", "zh"})


def family_name_first(language: str | None) -> bool:
    """Whether ``language`` (a tag such as "ko", "ja-JP" or "zh_Hant") puts the family
    name first."""
    if not language:
        return False
    primary = language[:2].lower()
    return primary in FAMILY_NAME_FIRST and (len(language) == 2 or language[2] in "-_")


def display_name(first_name: str | None, last_name: str | None, language: str | None) -> str:
    """The full name in the order of ``language``; either part may be empty."""
    if family_name_first(language):
        first_name, last_name = last_name, first_name
    head, tail = (first_name or "").strip(), (last_name or "").strip()
    return f"{head} {tail}" if head and tail else head or tail
