"""Audiences a team can manage: counts, members, where used, deletion, no silent
"everyone"."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.audiences.services import create_audience
from tests.support.api import Api
from tests.support.deliveries import boss, delivery_in
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    from envoi.accounts.services import create_user

    create_user("marketer", ["prepare_deliveries"], PASSWORD)
    signed_in = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert signed_in.login(username="marketer", password=PASSWORD)
    return signed_in


def test_each_audience_shows_its_count(client):
    create_profiles([{"email": f"k{i}@example.com", "language": "ko"} for i in range(3)])
    audience = create_audience(boss(), "Koreans", 'language = "ko"')
    page = client.get("/audiences/").content.decode()
    assert f'hx-get="/audiences/{audience.pk}/count/"' in page
    assert client.get(f"/audiences/{audience.pk}/count/").content.decode() == "3"


def test_an_empty_filter_needs_everyone_said(client):
    response = client.post("/audiences/new/", {"name": "All", "filter": "  "})
    assert response.status_code == 400
    assert "The filter is empty" in response.content.decode()
    assert not Audience.objects.filter(name="All").exists()
    response = client.post("/audiences/new/", {"name": "All", "filter": "", "everyone": "on"})
    assert response.status_code == 302 and Audience.objects.get(name="All").filter == ""


def test_an_error_on_save_shows_once_on_its_field(client):
    response = client.post("/audiences/new/", {"name": "Bad", "filter": 'language = "ko'})
    page = response.content.decode()
    assert response.status_code == 400
    assert page.count('role="alert"') == 1  # on the field, not again in the live verdict
    assert 'hx-trigger="input changed delay:300ms"' in page


def test_a_static_list_pages_its_members(client):
    create_profiles([{"email": f"m{i:03}@example.com"} for i in range(60)])
    members = Audience.objects.create(name="Members", kind=Audience.LIST)
    AudienceMember.objects.bulk_create(
        AudienceMember(audience=members, profile=p) for p in Profile.objects.order_by("id"))
    first = client.get(f"/audiences/{members.pk}/").content.decode()
    assert "m000@example.com" in first and "m059@example.com" not in first
    assert "?page=2" in first
    second = client.get(f"/audiences/{members.pk}/?page=2").content.decode()
    assert "m000@example.com" not in second


def test_an_unused_audience_is_deleted_and_a_used_one_says_where(client):
    unused = create_audience(boss(), "Unused", 'language = "ja"')
    assert client.get(f"/audiences/{unused.pk}/delete/").status_code == 405
    assert client.post(f"/audiences/{unused.pk}/delete/").status_code == 302
    assert not Audience.objects.filter(pk=unused.pk).exists()
    assert AuditEntry.objects.filter(action="audience.delete").exists()

    delivery = delivery_in("editing")
    page = client.get(f"/audiences/{delivery.audience_id}/").content.decode()
    assert delivery.label in page and "Delete the audience" not in page
    response = client.post(f"/audiences/{delivery.audience_id}/delete/", follow=True)
    assert "used by deliveries" in response.content.decode()
    assert Audience.objects.filter(pk=delivery.audience_id).exists()


def test_the_api_deletes_an_unused_audience_and_refuses_a_used_one():
    api = Api("api-marketer", "prepare_deliveries")
    unused = create_audience(boss(), "Unused", 'language = "ja"')
    assert api.client.delete(f"/api/v1/audiences/{unused.pk}",
                             headers=api._headers()).status_code == 204
    delivery = delivery_in("editing")
    response = api.client.delete(f"/api/v1/audiences/{delivery.audience_id}",
                                 headers=api._headers())
    assert response.status_code == 409
    assert delivery.label in response.json()["detail"]


@pytest.mark.parametrize(("language", "words"), [
    ("ko", '알 수 없는 필드 "colour"'), ("ja", '不明なフィールド "colour"'),
    ("en", 'unknown field "colour"')])
def test_a_filter_mistake_reads_in_the_readers_language(language, words):
    from envoi.accounts.services import create_user

    create_user(f"writer-{language}", ["prepare_deliveries"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.login(username=f"writer-{language}", password=PASSWORD)
    check = client.post("/audiences/check/", {"filter": 'colour = "red"'}).content.decode()
    assert words in check.replace("&quot;", '"') and 'lang="en"' not in check
    saved = client.post("/audiences/new/", {"name": "x", "filter": 'colour = "red"'})
    assert words in saved.content.decode().replace("&quot;", '"')
