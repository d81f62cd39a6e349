"""Browser fixtures: Debian's Chromium driven by Playwright, against the live server.

Each user gets their own browser context (cookies, language, time zone), so the
preparer, the approver and the starter are signed in side by side as three people
would be. Screenshots go to ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import translation

from envoi.accounts.services import create_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# A desktop browser's agent: the headless default names itself a robot, and the
# tracking rules rightly flag a robot's opens and clicks as machine events.
DESKTOP_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/130.0.0.0 Safari/537.36")
TIME_ZONES = {"en": "Europe/London", "ko": "Asia/Seoul", "ja": "Asia/Tokyo"}
PASSWORD = "a long console password"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


def text(language: str, message: str, context: str = "") -> str:
    """``message`` as the console shows it in ``language`` (from the real catalogue)."""
    with translation.override(language):
        if context:
            return translation.pgettext(context, message)
        return translation.gettext(message)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def screenshot_of(locator, name: str) -> Path:
    """A screenshot of one element (a dashboard block), under ``artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    return path


@dataclass
class Person:
    page: object
    language: str

    def t(self, message: str, context: str = "") -> str:
        return text(self.language, message, context)

    def button(self, message: str):
        return self.page.get_by_role("button", name=self.t(message), exact=True)

    def status(self) -> str:
        return self.page.get_by_test_id("status").inner_text()

    def approve(self, delivery_id: int) -> None:
        """Open the delivery and approve it."""
        self.page.goto(f"/deliveries/{delivery_id}/")
        self.button("Approve").click()
        self.page.wait_for_selector("#live[data-status=approved]")
        assert self.status() == self.t("Approved")

    def start_delivery_form(self, label: str, sender: str, subject: str, audience: str,
                            html: str, text: str) -> None:
        """Open the new-delivery form and fill in its message fields."""
        page = self.page
        page.get_by_role("link", name=self.t("Create a delivery")).click()
        page.fill("#id_label", label)
        page.fill("#id_sender", sender)
        page.fill("#id_subject", subject)
        page.select_option("#id_audience", label=audience)
        page.check("input[name=content_mode][value=html]")  # written as HTML
        page.fill("#id_html_body", html)
        page.fill("#id_text_body", text)


def csp_violations(page) -> list[str]:
    """The page's reports of what its Content-Security-Policy blocked, as they come."""
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


@pytest.fixture
def people(browser, live_server, settings):
    """Signs people in; at the end, no page any of them saw broke the console's CSP."""
    settings.ENVOI_BASE_URL = live_server.url
    contexts = []
    blocked: list[list[str]] = []

    def sign_in(username: str, role: str, language: str) -> Person:
        create_user(username, [role], PASSWORD)
        context = browser.new_context(locale=language, timezone_id=TIME_ZONES[language],
                                      user_agent=DESKTOP_AGENT, base_url=live_server.url,
                                      viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        blocked.append(csp_violations(page))
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button.primary").click()
        page.wait_for_url(re.compile(r".*/deliveries/$"))
        return Person(page, language)

    yield sign_in
    for context in contexts:
        context.close()
    assert not any(blocked), blocked
