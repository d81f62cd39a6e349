"""The console speaks English, Korean and Japanese, completely.

* every message of the ko and ja catalogues is translated (none empty, none fuzzy);
* the catalogues hold every string the code and templates mark (``makemessages`` on a
  copy finds nothing new);
* the committed ``.mo`` files say what their ``.po`` sources say;
* no template carries user-visible text outside ``{% translate %}``.

The pages themselves are checked in :mod:`tests.web.test_pages`.
"""

from __future__ import annotations

import gettext
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from django.utils import translation

from envoi.web import catalogues

WEB = Path(catalogues.__file__).resolve().parent
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))


@pytest.mark.parametrize("language", catalogues.LANGUAGES)
def test_no_untranslated_message(language):
    assert catalogues.untranslated(language) == []


def _msgids(po: Path) -> set[str]:
    with po.open("rb") as source:
        from babel.messages.pofile import read_po

        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs gettext (scripts/test)")
def test_catalogues_hold_every_marked_string(tmp_path):
    copy = tmp_path / "web"
    shutil.copytree(WEB, copy, ignore=shutil.ignore_patterns("static", "__pycache__"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "envoi.settings"}
    subprocess.run([sys.executable, "-m", "django", "makemessages", "-l", "ko", "-l", "ja",
                    "--no-location"], cwd=copy, env=env, check=True, capture_output=True)
    for language in catalogues.LANGUAGES:
        extracted = _msgids(copy / "locale" / language / "LC_MESSAGES" / "django.po")
        committed = _msgids(catalogues.po_path(language))
        assert extracted - committed == set(), f"run makemessages for {language}"


@pytest.mark.parametrize("language", catalogues.LANGUAGES)
def test_compiled_catalogue_matches_its_source(language):
    compiled = io.BytesIO()
    write_mo(compiled, catalogues.read_catalogue(language))
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    with catalogues.po_path(language).with_suffix(".mo").open("rb") as committed_file:
        committed = gettext.GNUTranslations(committed_file)
    assert committed._catalog == fresh._catalog, (  # type: ignore[attr-defined]
        "stale .mo: run python -m envoi.web.catalogues")


# Templates: no literal text ---------------------------------------------------------------

TEMPLATE_CODE = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)
COMMENT_BLOCK = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.DOTALL)
TRANSLATED_BLOCK = re.compile(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", re.DOTALL)
WORDS = re.compile(r"[A-Za-z]{2,}")
ALLOWED_WORDS = {"Envoi"}
READABLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
NOT_PROSE = {"code", "pre", "script", "style"}


class LiteralText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in NOT_PROSE:
            self.skipping += 1
        for name, value in attrs:
            if name in READABLE_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag):
        if tag in NOT_PROSE and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self._check(data)

    def _check(self, text: str) -> None:
        words = set(WORDS.findall(text)) - ALLOWED_WORDS
        if words:
            self.found.append(text.strip())


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_template_text_goes_through_gettext(template):
    source = TRANSLATED_BLOCK.sub("§", COMMENT_BLOCK.sub("", template.read_text()))
    parser = LiteralText()
    parser.feed(TEMPLATE_CODE.sub("§", source))
    assert parser.found == []


def test_every_refusal_has_a_translated_sentence():
    from envoi.accounts.roles import ACTION_ROLES, SENDING_ACTIONS, denial_message
    from envoi.web.errors import DENIALS

    assert set(DENIALS) == set(ACTION_ROLES)
    with translation.override("en"):
        for action in SENDING_ACTIONS:  # the seed page's sentence, word for word
            assert str(DENIALS[action]) == denial_message(action)


def test_every_status_and_role_has_a_label():
    from envoi.accounts.roles import Role
    from envoi.deliveries.models import Status
    from envoi.web.labels import ROLE_LABELS, STATUS_LABELS, STATUS_TONES

    assert set(STATUS_LABELS) == set(Status) == set(STATUS_TONES)
    assert set(ROLE_LABELS) == set(Role)
