"""The Deployment block of a sent delivery shows why people unsubscribed, in the
reader's language (artifacts/deployment-unsubscribe-reasons-{en,ko,ja}.png)."""

from __future__ import annotations

import pytest

from tests.consent.test_reasons_per_delivery import sent  # noqa: F401  (a fixture)
from tests.web.browser import screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_the_deployment_block_counts_the_reasons(people, sent, language):  # noqa: F811
    viewer = people(f"viewer-{language}", "approve_deliveries", language)
    page = viewer.page
    page.goto(f"/deliveries/{sent.pk}/")
    reasons = page.get_by_test_id("unsubscribe-reasons")
    assert viewer.t("Unsubscribe reasons") in reasons.inner_text()
    lines = reasons.locator("li").all_inner_texts()
    assert len(lines) == 3 and all(line.endswith(": 1") for line in lines)
    assert f"{viewer.t('Too many messages')}: 1" in lines
    screenshot_of(page.locator("section.deployment"),
                  f"deployment-unsubscribe-reasons-{language}")
