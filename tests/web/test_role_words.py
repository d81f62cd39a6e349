"""The users page says what each role allows, from the one role table."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from envoi.accounts.roles import ACTION_ROLES, Role
from envoi.web import role_words
from tests.web.conftest import PASSWORD


def test_every_permission_has_words():
    assert sorted(set(ACTION_ROLES) - set(role_words.DOING) - set(role_words.SEEING)) == []


def test_a_line_follows_the_table():
    with translation.override("en"):
        approver = role_words.allows(Role.APPROVE_DELIVERIES)
        importer = role_words.allows(Role.IMPORT)
    assert "approve deliveries" in approver and "create deliveries" not in approver
    assert importer.startswith("import profiles.") and "deliveries" not in importer


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_the_users_page_lists_what_each_role_allows(language):
    from envoi.accounts.services import create_user

    create_user(f"admin-{language}", ["administration"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.login(username=f"admin-{language}", password=PASSWORD)
    page = client.get("/admin/users/").content.decode()
    with translation.override(language):
        for role in Role:
            assert escape(role_words.allows(role)) in page
