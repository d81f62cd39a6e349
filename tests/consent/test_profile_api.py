"""Editing a profile through the API: the console's edit, through the same service and
permission — partial changes, field-by-field refusals in the reader's language,
consent withdrawn with proof on an opt-out, audited, and 409 once erased."""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import OPERATOR
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent import erasure
from envoi.consent.models import ConsentEvent, Source
from envoi.consent.services import Evidence, has_consent, record_consent
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    create_profiles([{"email": "yuna@example.kr", "first_name": "유나", "last_name": "박",
                      "language": "ko"}])
    found = Profile.objects.get()
    record_consent(found, "email", Evidence(Source.FORM, wording="yes"))
    return found


def test_a_partial_edit_changes_only_what_it_names(profile):
    vip = Audience.objects.create(name="VIP", kind=Audience.LIST)
    news = Audience.objects.create(name="News", kind=Audience.LIST)
    AudienceMember.objects.create(audience=news, profile=profile)
    admin = Api("admin", "administration")
    path = f"/profiles/{profile.pk}"
    assert admin.ok(admin.get(path))["lists"] == [news.pk]
    edited = admin.ok(admin.patch(path, {"first_name": " 유나 ", "timezone": "Asia/Seoul",
                                         "attributes": {"vip": True, "points": 120},
                                         "lists": [vip.pk], "email_opt_out": True}))
    assert edited["first_name"] == "유나" and edited["timezone"] == "Asia/Seoul"
    assert edited["attributes"] == {"vip": True, "points": 120}
    assert edited["lists"] == [vip.pk] and edited["email_opt_out"] is True
    assert edited["last_name"] == "박" and edited["email"] == "yuna@example.kr"
    # An opt-out is a withdrawal of consent, kept with its proof.
    assert not has_consent(profile, "email")
    assert ConsentEvent.objects.filter(move="withdraw", source="console").exists()
    # Audited as the console's edit: which fields, never their values.
    entry = AuditEntry.objects.get(action="profile.edit")
    assert entry.actor_name == "admin" and entry.detail["profile"] == profile.pk
    # (the name, trimmed, is unchanged)
    assert entry.detail["fields"] == ["attributes", "email_opt_out", "timezone", "lists"]
    assert "120" not in str(entry.detail) and "Asia/Seoul" not in str(entry.detail)
    # Leaving ``lists`` out leaves the membership alone.
    again = admin.ok(admin.patch(path, {"language": "ja"}))
    assert again["lists"] == [vip.pk] and again["language"] == "ja"


@pytest.mark.parametrize(("language", "email", "timezone"), [
    ("en", "Enter a valid email address.", "Enter a time zone name such as Asia/Seoul."),
    ("ko", "올바른 이메일 주소를 입력하세요.", "Asia/Seoul 같은 시간대 이름을 입력하세요."),
    ("ja", "正しいメールアドレスを入力してください。",
     "Asia/Tokyo のようなタイムゾーン名を入力してください。"),
])
def test_refusals_name_each_field_in_the_readers_language(profile, language, email,
                                                          timezone):
    admin = Api("admin", "administration")
    answer = admin.client.patch(
        f"/api/v1/profiles/{profile.pk}",
        '{"email": "not an address", "timezone": "Mars/Olympus", "lists": [999999],'
        ' "first_name": "' + "x" * 151 + '"}',
        content_type="application/json",
        headers={**admin._headers(), "Accept-Language": language})
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors["email"] == email and errors["timezone"] == timezone
    assert set(errors) == {"email", "timezone", "lists", "first_name"}
    assert "999999" in errors["lists"] and "150" in errors["first_name"]
    assert answer.json()["detail"].startswith("email: ")
    profile.refresh_from_db()
    assert profile.email == "yuna@example.kr" and profile.timezone == ""
    assert not AuditEntry.objects.filter(action="profile.edit").exists()


def test_the_same_permission_as_the_console_and_no_existence_oracle(profile):
    preparer = Api("pat", "prepare_deliveries")
    assert preparer.ok(preparer.get(f"/profiles/{profile.pk}"))["email"] == "yuna@example.kr"
    assert preparer.patch(f"/profiles/{profile.pk}", {"first_name": "X"}).status_code == 403
    assert preparer.patch("/profiles/999999", {"first_name": "X"}).status_code == 403
    importer = Api("ivy", "import")  # profile.edit: administration and import
    assert importer.ok(importer.patch(f"/profiles/{profile.pk}", {"is_test": True}))["is_test"]
    admin = Api("admin", "administration")
    assert admin.patch("/profiles/999999", {"first_name": "X"}).status_code == 404
    unknown = admin.patch(f"/profiles/{profile.pk}", {"favourite": "tea"})
    assert unknown.status_code == 422 and "favourite" in unknown.content.decode()
    null_lists = admin.patch(f"/profiles/{profile.pk}", {"lists": None})
    assert null_lists.status_code == 400 and "lists" in null_lists.json()["errors"]
    null_name = admin.patch(f"/profiles/{profile.pk}", {"first_name": None})
    assert null_name.status_code == 400 and "first_name" in null_name.json()["errors"]


def test_an_erased_profile_cannot_be_edited_back(profile):
    erasure.erase_profile(OPERATOR, profile)
    admin = Api("admin", "administration")
    answer = admin.patch(f"/profiles/{profile.pk}", {"email": "yuna@example.kr"})
    assert answer.status_code == 409 and "erased" in answer.json()["detail"]
    profile.refresh_from_db()
    assert profile.email == ""
