"""API tokens: listed, revoked and given an expiry from the command line, the API and
the console; a revoked or expired token answers 401."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.models import ApiToken, AuditEntry
from envoi.accounts.services import create_token, create_user, user_for_token
from envoi.cli import main
from tests.support.api import Api

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def answers(token: str) -> int:
    """The status of an authenticated API call made with ``token``."""
    return Client().get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}
                        ).status_code


def console(username: str, *roles: str) -> Client:
    create_user(username, roles, PASSWORD)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


# The command line


def test_cli_token_with_an_expiry_stops_working_when_it_expires(clock, capsys):
    create_user("cli", ["prepare_deliveries"])
    assert main(["token", "create", "cli", "--expires-in", "7", "--label", "ci"]) == 0
    token = capsys.readouterr().out
    assert token.count("\n") == 1 and token.startswith("envoi_"), "the token and nothing else"
    assert answers(token.strip()) == 200
    clock.advance(days=7)
    assert answers(token.strip()) == 401
    assert user_for_token(token.strip()) is None


def test_cli_lists_and_revokes(clock, capsys):
    create_user("ann", [])
    create_user("ben", [])
    ann_token = create_token(create_user("cat", []), "other")
    assert main(["token", "create", "ann", "--label", "deploy"]) == 0
    ann = capsys.readouterr().out.strip()
    assert main(["token", "create", "ben", "--expires-in", "1"]) == 0
    capsys.readouterr()
    assert main(["token", "list", "ann"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split("\t") == ["id", "user", "label", "created", "expires",
                                      "last used", "state"]
    assert len(listing) == 2 and "\tann\tdeploy\t" in listing[1]
    assert listing[1].endswith("\t-\t-\tactive")
    token_id = int(listing[1].split("\t")[0])
    assert main(["token", "list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4  # every user's
    assert main(["token", "revoke", str(token_id)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert answers(ann) == 401
    assert answers(ann_token) == 200
    main(["token", "list", "ann"])
    assert capsys.readouterr().out.splitlines()[1].endswith("\trevoked")
    entry = AuditEntry.objects.get(action="token.revoke")
    assert entry.actor_name == "(command line)" and entry.detail["owner"] == "ann"
    clock.advance(days=2)
    main(["token", "list", "ben"])
    assert capsys.readouterr().out.splitlines()[1].endswith("\texpired")


def test_cli_refuses_bad_token_input(capsys):
    create_user("dan", [])
    assert main(["token", "create", "dan", "--expires-in", "0"]) == 2
    assert "expires_in_days" in capsys.readouterr().err
    assert main(["token", "revoke", "999999"]) == 2
    assert "no token 999999" in capsys.readouterr().err
    assert main(["token", "list", "nobody"]) == 2
    assert not ApiToken.objects.exists()


# The API


def test_api_own_tokens_are_listed_created_and_revoked(clock):
    api = Api("eve", "prepare_deliveries")
    created = api.ok(api.post("/tokens", {"name": "laptop", "expires_in_days": 30}), 201)
    assert created["token"].startswith("envoi_") and created["state"] == "active"
    assert created["expires_at"].startswith("2026-02-04T09:00")
    listed = api.ok(api.get("/tokens"))
    assert [t["name"] for t in listed] == ["laptop", ""]
    assert "token" not in listed[0], "the clear token is shown once"
    assert answers(created["token"]) == 200
    gone = api.client.delete(f"/api/v1/tokens/{created['id']}", headers=api._headers())
    assert gone.status_code == 204
    assert answers(created["token"]) == 401
    listed = api.ok(api.get("/tokens"))
    assert listed[0]["state"] == "revoked" and listed[0]["revoked_at"]
    assert AuditEntry.objects.filter(action="token.revoke", actor=api.user).exists()


def test_api_expired_token_gets_401(clock):
    api = Api("fay")
    short = api.ok(api.post("/tokens", {"expires_in_days": 1}), 201)["token"]
    clock.advance(hours=23, minutes=59)
    assert answers(short) == 200
    clock.advance(minutes=1)
    response = Client().get("/api/v1/tokens", headers={"Authorization": f"Bearer {short}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing or invalid bearer token."}


def test_api_other_users_tokens_need_token_manage():
    owner = Api("gus")
    stranger = Api("hal", "start_deliveries")
    admin = Api("ivy", "administration")
    owner_id = ApiToken.objects.get(user=owner.user).pk
    refused = stranger.client.delete(f"/api/v1/tokens/{owner_id}",
                                     headers=stranger._headers())
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Your permissions do not allow you to manage API tokens.")
    # No existence oracle: a missing id is refused the same way.
    assert stranger.client.delete("/api/v1/tokens/999999",
                                  headers=stranger._headers()).status_code == 403
    assert stranger.get("/tokens", user="gus").status_code == 403
    assert stranger.get("/tokens", all="true").status_code == 403
    assert stranger.post("/tokens", {"user": "gus"}).status_code == 403
    assert answers(owner.token) == 200
    assert {t["user"] for t in admin.ok(admin.get("/tokens", all="true"))} == {
        "gus", "hal", "ivy"}
    for_gus = admin.ok(admin.post("/tokens", {"user": "gus", "name": "by admin"}), 201)
    assert for_gus["user"] == "gus"
    assert admin.client.delete("/api/v1/tokens/999999",
                               headers=admin._headers()).status_code == 404
    assert admin.client.delete(f"/api/v1/tokens/{owner_id}",
                               headers=admin._headers()).status_code == 204
    assert answers(owner.token) == 401
    assert admin.post("/tokens", {"user": "nobody"}).status_code == 400


def test_api_refuses_bad_token_input():
    api = Api("jo")
    assert api.post("/tokens", {"expires_in_days": 0}).status_code == 422
    assert api.post("/tokens", {"expires_in_days": 10**6}).status_code == 422
    assert api.post("/tokens", {"name": "x" * 101}).status_code == 422
    assert api.post("/tokens", {"colour": "red"}).status_code == 422
    nul = api.post("/tokens", {"name": "a\x00b"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    admin = Api("jo-admin", "administration")
    assert admin.get("/tokens", user="a\x00b").status_code == 400
    assert admin.post("/tokens", {"user": "a\x00b"}).status_code == 400


# The console


def test_console_creates_lists_and_revokes_own_tokens(clock):
    client = console("kai", "prepare_deliveries")
    page = client.post("/tokens/", {"name": "script", "expires_in_days": "3"})
    assert page.status_code == 200
    html = page.content.decode()
    row = ApiToken.objects.get(user__username="kai")
    clear = html.split('data-testid="new-token">')[1].split("<")[0]
    assert user_for_token(clear) is not None and row.name == "script"
    assert "script" in html and "Active" in html
    assert answers(clear) == 200
    assert client.post(f"/tokens/{row.pk}/revoke/").status_code == 302
    assert answers(clear) == 401
    html = client.get("/tokens/").content.decode()
    assert "Revoked" in html and clear not in html
    clock.advance(days=3)
    client.post("/tokens/", {"name": "short", "expires_in_days": "1"})
    clock.advance(days=1)
    assert "Expired" in client.get("/tokens/").content.decode()


def test_console_token_refusals():
    other = create_token(create_user("lee", []), "lee's")
    client = console("max", "prepare_deliveries")
    other_id = ApiToken.objects.get(user__username="lee").pk
    assert "lee&#x27;s" not in client.get("/tokens/").content.decode()
    assert client.post(f"/tokens/{other_id}/revoke/").status_code == 403
    assert client.post("/tokens/999999/revoke/").status_code == 403
    assert answers(other) == 200
    bad = client.post("/tokens/", {"expires_in_days": "0"})
    assert bad.status_code == 400
    admin = console("nia", "administration")
    assert "lee&#x27;s" in admin.get("/tokens/").content.decode()
    assert admin.post(f"/tokens/{other_id}/revoke/").status_code == 302
    assert answers(other) == 401
    assert admin.post("/tokens/999999/revoke/").status_code == 404


@pytest.mark.parametrize("language, title", [("ko", "API 토큰"), ("ja", "API トークン")])
def test_console_token_page_is_translated(language, title):
    create_user("oda", ["prepare_deliveries"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username="oda", password=PASSWORD)
    assert title in client.get("/tokens/").content.decode()
