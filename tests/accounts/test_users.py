"""Users are deactivated and reactivated, and given a new password by an administrator,
from the command line, the API and the console; the password rules hold in every face."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import create_token, create_user
from envoi.cli import main
from tests.support.api import Api

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
NEW_PASSWORD = "purple monkey dishwasher"


def session_of(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    assert client.get("/tokens/").status_code == 200
    return client


def signed_out(client: Client) -> bool:
    response = client.get("/tokens/")
    return response.status_code == 302 and response["Location"].startswith("/login/")


def token_status(token: str) -> int:
    return Client().get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}
                        ).status_code


def can_sign_in(username: str, password: str) -> bool:
    response = Client().post("/login/", {"username": username, "password": password})
    return response.status_code == 302


# Password rules on the command line


@pytest.mark.parametrize("weak, rule", [
    ("x", "too short"), ("12345678901", "entirely numeric"), ("password123", "too common"),
    ("mallory-the-great", "too similar"),
])
def test_cli_refuses_a_password_that_breaks_the_rules(capsys, weak, rule):
    assert main(["user", "create", "mallory-the-great", "--password", weak]) == 2
    assert rule in capsys.readouterr().err
    assert not User.objects.filter(username="mallory-the-great").exists()


def test_cli_user_create_keeps_working(capsys):
    assert main(["user", "create", "nina", "--role", "export", "--password", PASSWORD]) == 0
    assert "created user nina with roles: export" in capsys.readouterr().out
    assert can_sign_in("nina", PASSWORD)
    # A name taken: a clear error and exit 1, never a traceback (issue 21).
    assert main(["user", "create", "nina", "--password", PASSWORD]) == 1
    err = capsys.readouterr().err
    assert "a user named 'nina' exists already" in err and "Traceback" not in err


def test_console_add_user_applies_the_same_rules():
    admin = Client()
    create_user("root", ["administration"], PASSWORD)
    assert admin.login(username="root", password=PASSWORD)
    page = admin.post("/admin/users/", {"username": "omar", "password": "short1"})
    assert page.status_code == 400 and "too short" in page.content.decode()
    ja = Client(HTTP_ACCEPT_LANGUAGE="ja")
    ja.login(username="root", password=PASSWORD)
    page = ja.post("/admin/users/", {"username": "omar", "password": "1234567890123"})
    assert "数字しか" in page.content.decode()
    assert not User.objects.filter(username="omar").exists()
    assert admin.post("/admin/users/", {"username": "omar",
                                        "password": PASSWORD}).status_code == 302


# Deactivation


def test_cli_deactivation_cuts_sessions_and_tokens_at_once(capsys):
    user = create_user("pia", ["prepare_deliveries"], PASSWORD)
    token = create_token(user)
    browser = session_of("pia")
    assert token_status(token) == 200
    assert main(["user", "deactivate", "pia"]) == 0
    assert "deactivated pia" in capsys.readouterr().out
    assert signed_out(browser)
    assert token_status(token) == 401
    assert not can_sign_in("pia", PASSWORD)
    assert main(["user", "list"]) == 0
    assert "pia\tdeactivated\t-" in capsys.readouterr().out
    assert main(["user", "reactivate", "pia"]) == 0
    assert signed_out(browser), "a reactivation does not bring old sessions back"
    assert token_status(token) == 200
    assert can_sign_in("pia", PASSWORD)
    actions = list(AuditEntry.objects.filter(action__startswith="users.").values_list(
        "action", "actor_name"))
    assert ("users.deactivate", "(command line)") in actions
    assert ("users.reactivate", "(command line)") in actions
    assert main(["user", "deactivate", "nobody"]) == 2


def test_api_deactivation_and_reactivation():
    admin = Api("quinn", "administration")
    target = Api("rui", "prepare_deliveries")
    browser = session_of_user(target.user)
    refused = target.post(f"/users/{admin.user.pk}/deactivate")
    assert refused.status_code == 403
    assert target.post("/users/999999/deactivate").status_code == 403  # no oracle
    assert target.get("/users").status_code == 403
    body = admin.ok(admin.post(f"/users/{target.user.pk}/deactivate"))
    assert body["is_active"] is False and body["username"] == "rui"
    assert token_status(target.token) == 401
    assert signed_out(browser)
    listed = {u["username"]: u["is_active"] for u in admin.ok(admin.get("/users"))}
    assert listed == {"quinn": True, "rui": False}
    assert admin.ok(admin.post(f"/users/{target.user.pk}/reactivate"))["is_active"]
    assert token_status(target.token) == 200
    own = admin.post(f"/users/{admin.user.pk}/deactivate")
    assert own.status_code == 400
    assert own.json()["detail"] == "You cannot deactivate your own account."
    assert admin.post("/users/999999/deactivate").status_code == 404


def session_of_user(user: User) -> Client:
    user.set_password(PASSWORD)
    user.save()
    return session_of(user.username)


def test_console_deactivation_and_reactivation():
    create_user("sam", ["administration"], PASSWORD)
    admin = session_of("sam")
    target = create_user("tia", ["prepare_deliveries"], PASSWORD)
    token = create_token(target)
    browser = session_of("tia")
    page = admin.get(f"/admin/users/{target.pk}/account/").content.decode()
    assert "Deactivate the user" in page
    assert admin.post(f"/admin/users/{target.pk}/deactivate/").status_code == 302
    assert signed_out(browser) and token_status(token) == 401
    page = admin.get(f"/admin/users/{target.pk}/account/").content.decode()
    assert "No (deactivated)" in page and "Reactivate the user" in page
    admin.post(f"/admin/users/{target.pk}/reactivate/")
    assert token_status(token) == 200
    me = User.objects.get(username="sam")
    response = admin.post(f"/admin/users/{me.pk}/deactivate/", follow=True)
    assert "You cannot deactivate your own account." in response.content.decode()
    assert User.objects.get(username="sam").is_active
    # Not for users without the right.
    assert browser.login(username="tia", password=PASSWORD)
    assert browser.post(f"/admin/users/{me.pk}/deactivate/").status_code == 403
    assert browser.get(f"/admin/users/{me.pk}/account/").status_code == 403
    assert User.objects.get(username="sam").is_active


# Password reset


def test_cli_set_password(capsys, monkeypatch):
    create_user("uma", [], PASSWORD)
    browser = session_of("uma")
    assert main(["user", "set-password", "uma", "--password", "abc"]) == 2
    assert "too short" in capsys.readouterr().err
    assert can_sign_in("uma", PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW_PASSWORD + "\n"))
    assert main(["user", "set-password", "uma"]) == 0
    assert signed_out(browser)
    assert not can_sign_in("uma", PASSWORD)
    assert can_sign_in("uma", NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="users.set_password")
    assert entry.detail == {"username": "uma"}
    assert NEW_PASSWORD not in str(entry.detail)


def test_api_set_password():
    admin = Api("val", "administration")
    target = create_user("wes", [], PASSWORD)
    weak = admin.post(f"/users/{target.pk}/password", {"password": "wes"})
    assert weak.status_code == 400 and weak.json()["detail"].startswith("password: ")
    assert admin.post(f"/users/{target.pk}/password",
                      {"password": NEW_PASSWORD}).status_code == 204
    assert can_sign_in("wes", NEW_PASSWORD)
    other = Api("xia", "start_deliveries")
    assert other.post(f"/users/{target.pk}/password",
                      {"password": "another good passphrase"}).status_code == 403
    assert can_sign_in("wes", NEW_PASSWORD)


def test_console_set_password():
    create_user("yan", ["administration"], PASSWORD)
    admin = session_of("yan")
    target = create_user("zoe", [], PASSWORD)
    browser = session_of("zoe")
    url = f"/admin/users/{target.pk}/account/"
    differ = admin.post(url, {"password": NEW_PASSWORD, "again": "something else"})
    assert differ.status_code == 400 and "The two passwords differ." in differ.content.decode()
    weak = admin.post(url, {"password": "zoe", "again": "zoe"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    assert admin.post(url, {"password": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 302
    assert signed_out(browser)
    assert can_sign_in("zoe", NEW_PASSWORD) and not can_sign_in("zoe", PASSWORD)


@pytest.mark.parametrize("language, phrase", [("ko", "사용자 비활성화"),
                                              ("ja", "ユーザーを無効にする")])
def test_console_account_page_is_translated(language, phrase):
    create_user("ada", ["administration"], PASSWORD)
    target = create_user("bea", [], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username="ada", password=PASSWORD)
    assert phrase in client.get(f"/admin/users/{target.pk}/account/").content.decode()


# One-time reset links


def choose_password(link: str, password: str, again: str | None = None,
                    language: str = "en"):
    """Follow a reset link in a fresh browser and set ``password``."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    path = link.removeprefix("http://testserver")
    form_page = client.get(path, follow=True)
    if form_page.redirect_chain == []:
        return form_page
    return client.post(form_page.redirect_chain[-1][0], {
        "new_password1": password, "new_password2": again or password}, follow=True)


def test_cli_reset_link_works_once(capsys):
    create_user("ari", [], PASSWORD)
    browser = session_of("ari")
    assert main(["user", "reset-link", "ari"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://testserver/reset/") and "\n" not in link
    weak = choose_password(link, "ari")
    assert "too short" in weak.content.decode()
    done = choose_password(link, NEW_PASSWORD)
    assert done.redirect_chain[-1][0] == "/login/"
    assert "Your password was changed. Sign in with it." in done.content.decode()
    assert can_sign_in("ari", NEW_PASSWORD) and not can_sign_in("ari", PASSWORD)
    assert signed_out(browser)
    again = choose_password(link, "yet another passphrase")
    assert "This link does not work" in again.content.decode()
    assert can_sign_in("ari", NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="users.password_reset",
                                     actor__username="ari").exists()
    assert AuditEntry.objects.filter(action="users.reset_link",
                                     actor_name="(command line)").exists()


def test_reset_links_of_deactivated_users_and_forged_links_do_not_work(capsys):
    user = create_user("bo", [], PASSWORD)
    main(["user", "reset-link", "bo"])
    link = capsys.readouterr().out.strip()
    main(["user", "deactivate", "bo"])
    assert "This link does not work" in choose_password(link, NEW_PASSWORD).content.decode()
    assert main(["user", "reset-link", "bo"]) == 2
    assert "deactivated" in capsys.readouterr().err
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)
    for forged in ["/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5/abc-def/", "/reset/!!/x/",
                   "/reset/MQ/set-password/"]:
        page = Client().get(forged)
        assert page.status_code == 200 and "This link does not work" in page.content.decode()


def test_console_and_api_reset_links():
    create_user("cy", ["administration"], PASSWORD)
    admin = session_of("cy")
    target = create_user("di", [], PASSWORD)
    page = admin.post(f"/admin/users/{target.pk}/reset-link/")
    html = page.content.decode()
    assert "It works once, for 3 days at most" in html
    link = html.split('data-testid="reset-link">')[1].split("<")[0]
    ja = choose_password(link, NEW_PASSWORD, language="ja")
    assert "パスワードを変更しました" in ja.content.decode()
    assert can_sign_in("di", NEW_PASSWORD)
    api = Api("ed", "administration")
    url = api.ok(api.post(f"/users/{target.pk}/reset-link"))["url"]
    assert url.startswith("http://testserver/reset/")
    other = Api("fi", "prepare_deliveries")
    assert other.post(f"/users/{target.pk}/reset-link").status_code == 403
    assert Client().post(f"/admin/users/{target.pk}/reset-link/").status_code == 302
