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
    return (language or "").split("-", 1)[0].split("_", 1)[0].lower() in FAMILY_NAME_FIRST


def display_name(first_name: str | None, last_name: str | None, language: str | None) -> str:
    """The full name in the order of ``language``; either part may be empty."""
    parts = ((last_name, first_name) if family_name_first(language)
             else (first_name, last_name))
    return " ".join(part.strip() for part in parts if part and part.strip())
