"""Short tracked links of an SMS in the console, in Chromium: ticking "Shorten and track
the links" makes the counter count the short link instead of the long address; the
prepared parts agree; the outbox shows where each short link leads (a console user's
click counts for nothing); the Deployment block shows the click-through rate.
Screenshots in artifacts/."""

from __future__ import annotations

import re

import pytest

from envoi.audiences.models import Audience, Profile
from envoi.deliveries.models import Delivery
from envoi.sending.models import OutboxSms
from envoi.sending.worker import Worker
from envoi.tracking.models import TrackingEvent
from tests.web.browser import screenshot, screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)

LONG_URL = ("https://shop.example.com/spring-sale/collections/womens-outerwear"
            "?utm_source=sms&utm_medium=text&utm_campaign=spring2026")
TEXT = f"Hi {{{{ first_name }}}}, our spring sale has started: {LONG_URL}. Reply STOP to opt out."


def test_short_links_are_counted_sent_and_not_tracked_from_the_console(people, smsc):
    Profile.objects.create(phone="010-1234-5678", first_name="Minji", language="ko")
    Audience.objects.create(name="SMS", filter="")
    preparer = people("link-maker", "start_deliveries", "ja")
    page = preparer.page
    page.get_by_role("link", name=preparer.t("Create a delivery")).click()
    page.fill("#id_label", "Spring links")
    page.select_option("#id_channel", "sms")
    page.fill("#id_sender", "Envoi")
    page.select_option("#id_audience", label="SMS")
    page.locator("#id_approval_required").uncheck()
    page.fill("#id_text_body", TEXT)
    assert page.get_by_test_id("sms-parts").inner_text() == "2"  # the long address
    page.locator("#id_track_links").check()
    assert page.get_by_test_id("sms-parts").inner_text() == "1"  # its short link
    screenshot_of(page.get_by_test_id("sms-fields"), "sms-links-1-counter-ja")
    page.locator("form button.primary").click()
    page.wait_for_url("**/deliveries/*/")
    delivery = Delivery.objects.get()
    assert delivery.track_links

    preparer.button("Prepare").click()
    page.wait_for_selector("#live[data-status=ready]")
    assert Delivery.objects.get().parts == {"min": 1, "max": 1, "total": 1}
    preparer.button("Confirm send").click()
    page.locator("dialog#confirm-send").get_by_role("button", name=preparer.t("OK")).click()
    page.wait_for_selector("#live[data-status=in_progress]")
    Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)
    sent = OutboxSms.objects.get().text
    assert re.search(r"/s/[A-Za-z0-9_-]+\. Reply STOP", sent) and LONG_URL not in sent

    page.goto("/outbox/")
    shown = page.get_by_test_id("outbox-sms").inner_text()
    assert LONG_URL in shown and "/s/" not in shown
    screenshot(page, "sms-links-2-outbox-ja")
    page.goto(f"/deliveries/{delivery.pk}/")
    kpis = page.get_by_test_id("sms-kpis")
    assert kpis.locator("[data-kpi=click_rate]").inner_text().startswith("0")
    assert not TrackingEvent.objects.exists()
    screenshot(page, "sms-links-3-dashboard-ja")
