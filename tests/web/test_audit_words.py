"""The audit log reads as words in the reader's language, never as codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from envoi.accounts.models import AuditEntry
from envoi.accounts.roles import ACTION_ROLES
from envoi.web import audit_words
from tests.web.conftest import PASSWORD

SOURCE = Path(__file__).resolve().parents[2] / "src" / "envoi"
# An audited action's code as the core writes it: audit(user, "delivery.approve", ...),
# a module constant ("delivery.auto_pause"), or AuditEntry(action="login.failed").
AUDITED = re.compile(r"""(?:audit\([^,]+,\s*|action=)f?["']([a-z_]+\.[a-z_]+)["']""")
CONSTANT = re.compile(r"""^[A-Z_]+ = ["']([a-z_]+\.[a-z_]+)["']""", re.M)


def audited_actions() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(AUDITED.findall(text))
        if "audit(" in text:
            found.update(code for code in CONSTANT.findall(text)
                         if code.split(".")[0] in {"delivery", "profile", "users"})
    return found


def test_every_audited_action_and_permission_has_a_phrase():
    codes = audited_actions() | set(ACTION_ROLES)
    assert len(codes) > 30
    assert sorted(codes - set(audit_words.ACTION_PHRASES)) == []


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ko", "ja"])
def test_the_log_shows_translated_actions_and_labelled_details(language):
    from envoi.accounts.services import audit, create_user

    boss = create_user(f"auditor-{language}", ["administration"], PASSWORD)
    audit(boss, "delivery.edit", delivery_id=None, fields=["html_body", "subject"])
    audit(boss, "users.roles", username="kim", roles=["approve_deliveries"])
    AuditEntry.objects.create(action="delivery.confirm", allowed=False,
                              detail={"reason": "Your permissions do not allow you to "
                                      "confirm a delivery."})
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.login(username=f"auditor-{language}", password=PASSWORD)
    page = client.get("/admin/audit/").content.decode()
    with translation.override(language):
        for words in ("Changed the delivery", "Changed a user's roles", "Confirmed the send",
                      "HTML content", "Approve deliveries"):
            assert translation.gettext(words) in page, words
    shown = re.sub(r"<[^>]+>", " ", page)  # what a reader sees, not attribute values
    for code in ("html_body", "fields=", "delivery.edit", "approve_deliveries",
                 "Your permissions"):
        assert code not in shown, code
