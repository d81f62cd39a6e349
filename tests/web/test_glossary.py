"""The catalogues use the market terms of docs/GLOSSARY.md, never the ones it avoids."""

from __future__ import annotations

from pathlib import Path

import pytest

from envoi.web import catalogues

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "GLOSSARY.md"
AVOID_COLUMN = {"ko": 2, "ja": 4}


def avoided_terms(language: str) -> set[str]:
    terms: set[str] = set()
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("English", "---"):
            continue
        terms.update(t.strip() for t in cells[AVOID_COLUMN[language]].split(",") if t.strip())
    return terms


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_catalogue_speaks_the_markets_terms(language):
    avoided = avoided_terms(language)
    assert avoided, "the glossary lists no term to avoid"
    offending = []
    for message in catalogues.read_catalogue(language):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            offending += [(message.id, term) for term in avoided if term in (string or "")]
    assert offending == []
