"""What only a browser shows: the language switcher, and the filter editor's live count
and located errors (htmx asks the server as the user types)."""

from __future__ import annotations

import pytest

from envoi.audiences.importer import create_profiles
from tests.support.scenario import profile_rows

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_language_can_be_switched_in_the_header(people):
    person = people("polyglot", "prepare_deliveries", "en")
    page = person.page
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("select[name=language]", "ja")  # submits by itself
    page.wait_for_selector("html[lang=ja]")
    assert page.get_by_role("heading", level=1).inner_text() == "配信"
    page.goto("/profiles/")  # and it stays so
    assert page.locator("html").get_attribute("lang") == "ja"


def test_the_filter_editor_counts_as_you_type_and_points_at_mistakes(people):
    create_profiles(profile_rows())
    person = people("segmenter", "prepare_deliveries", "ko")
    page = person.page
    page.goto("/audiences/new/")
    editor = page.locator("textarea[name=filter]")
    everyone = len(profile_rows()) - 1  # the test profile is never counted
    page.get_by_test_id("filter-count").wait_for()
    assert page.get_by_test_id("filter-count").inner_text().startswith(f"프로필 {everyone}개")

    editor.fill('first_name = "민지"')
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval
        "() => document.querySelector('[data-testid=filter-count]')?.innerText"
        ".startsWith('프로필 1개')")

    editor.fill('language = "ko"\nand colour = "blue"')
    error = page.get_by_test_id("filter-error")
    error.wait_for()
    assert "2행, 5열" in error.inner_text() and "colour" in error.inner_text()
    assert error.locator("pre").inner_text().splitlines() == ['and colour = "blue"', "    ^"]

    editor.fill('email ends with "@example.com"')
    expected = sum(1 for row in profile_rows()
                   if row["email"].endswith("@example.com") and not row.get("is_test"))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=filter-count]')?.innerText"
        f".startsWith('프로필 {expected}개')")
