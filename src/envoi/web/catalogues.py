"""The console's translation catalogues: compile them, and find what is missing.

The ``.po`` files under ``envoi/web/locale`` are the source; the compiled ``.mo`` files
beside them are committed, so a fresh clone (or an installed package) needs no gettext
tools. ``python -m envoi.web.catalogues`` recompiles every catalogue whose ``.po`` is
newer than its ``.mo`` (``scripts/bootstrap`` runs it); it uses Babel, which Envoi
already depends on through python-liquid, so nothing else has to be installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("ko", "ja")


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def read_catalogue(language: str) -> Catalog:
    with po_path(language).open("rb") as source:
        return read_po(source, locale=language)


def untranslated(language: str) -> list[str]:
    """Messages of the catalogue with no translation, or one marked fuzzy."""
    missing = []
    for message in read_catalogue(language):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(str(message.id[0] if isinstance(message.id, tuple) else message.id))
    return missing


def compile_catalogue(language: str) -> Path:
    target = po_path(language).with_suffix(".mo")
    catalogue = read_catalogue(language)
    with target.open("wb") as out:
        write_mo(out, catalogue)
    return target


def compile_stale() -> list[Path]:
    """Compile every catalogue whose ``.mo`` is missing or older than its ``.po``."""
    done = []
    for language in LANGUAGES:
        po, mo = po_path(language), po_path(language).with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            done.append(compile_catalogue(language))
    return done


if __name__ == "__main__":
    for path in compile_stale():
        print(f"compiled {path}", file=sys.stderr)
