"""Sign-in throttling and deactivation as people meet them, in Chromium against the live
server."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from envoi.accounts.services import create_user
from tests.web.browser import DESKTOP_AGENT, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long console password"


def new_page(browser, live_server, language: str):
    context = browser.new_context(locale=language, user_agent=DESKTOP_AGENT,
                                  base_url=live_server.url)
    return context, context.new_page()


def submit(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button.primary").click()
    page.wait_for_load_state()


def test_a_guesser_is_told_to_wait_and_the_owner_signs_in_after(browser, live_server,
                                                                 clock):
    create_user("mina", ["prepare_deliveries"], PASSWORD)
    context, page = new_page(browser, live_server, "ko")
    try:
        for n in range(settings.ENVOI_LOGIN_FREE_FAILURES + 1):
            submit(page, "mina", f"guess {n}")
            assert page.locator("p.error").inner_text() == (
                "사용자 이름 또는 비밀번호가 올바르지 않습니다.")
        submit(page, "mina", PASSWORD)
        error = page.locator("p.error[role=alert]")
        assert error.inner_text() == "로그인 실패가 너무 많습니다. 1초 후에 다시 시도하세요."
        screenshot(page, "sign-in-throttled-ko")
        clock.advance(seconds=1)
        submit(page, "mina", PASSWORD)
        page.wait_for_url(re.compile(r".*/deliveries/$"))
    finally:
        context.close()


def test_a_deactivated_user_is_signed_out_at_once(browser, live_server):
    create_user("boss", ["administration"], PASSWORD)
    target = create_user("temp", ["prepare_deliveries"], PASSWORD)
    admin_context, admin = new_page(browser, live_server, "ja")
    user_context, user = new_page(browser, live_server, "en")
    try:
        submit(user, "temp", PASSWORD)
        user.wait_for_url(re.compile(r".*/deliveries/$"))
        submit(admin, "boss", PASSWORD)
        admin.goto(f"/admin/users/{target.pk}/account/")
        admin.get_by_role("button", name="ユーザーを無効にする").click()
        admin.wait_for_load_state()
        assert admin.get_by_test_id("account-state").inner_text() == "いいえ（無効）"
        screenshot(admin, "user-deactivated-ja")
        user.goto("/deliveries/")
        assert "/login/" in user.url
    finally:
        admin_context.close()
        user_context.close()
