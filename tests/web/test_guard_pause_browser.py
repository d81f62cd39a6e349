"""A delivery paused by a guard says why on its Deployment block, in the reader's
language (screenshot in ``artifacts/``)."""

from __future__ import annotations

import pytest

from envoi.deliveries import services
from envoi.sending.worker import Worker
from tests.support.deliveries import boss, prepared_delivery
from tests.web.browser import screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_the_deployment_block_says_why_sending_paused(people, relay, monkeypatch, language):
    monkeypatch.setenv("ENVOI_GUARD_MIN_MESSAGES", "100")
    delivery = prepared_delivery(f"gone{language}", 600)
    for index in range(0, 600, 10):  # 10 % unknown users
        relay.script(f"gone{language}{index}@example.com", "550 5.1.1 User unknown")
    services.confirm(boss(), delivery)
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=100).run(until_idle=True)

    starter = people(f"starter_{language}", "start_deliveries", language)
    page = starter.page
    page.goto(f"/deliveries/{delivery.pk}/")
    banner = page.get_by_test_id("guard-pause")
    assert banner.get_attribute("data-signal") == "hard_bounces"
    assert starter.t("Find the cause before resuming; resuming needs the Start deliveries "
                     "role.") in banner.inner_text()
    screenshot_of(page.locator("section.deployment"), f"guard-pause-{language}")
    starter.button("Resume").click()
    page.wait_for_selector("#live[data-status=in_progress]")
    assert page.get_by_test_id("guard-pause").count() == 0
