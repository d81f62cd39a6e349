"""SMS in the console, in Chromium: a preparer writes an SMS delivery in Korean and sees
the counter switch to UCS-2 with its part count; a starter confirms it; the embedded
shape's capture SMSC receives it, and the outbox shows it. Screenshots in artifacts/."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Audience, Profile
from envoi.deliveries.models import Delivery
from envoi.sending.models import OutboxSms
from envoi.sending.worker import Worker
from tests.web.browser import screenshot, screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)

KOREAN = ("{{ first_name }}님, 봄 세일이 시작되었습니다! 전 품목 30% 할인, 온라인과 매장 모두 "
          "일요일까지 진행합니다. 친구와 함께 오시면 추가 10% 할인. 수신거부: STOP 회신")


def test_an_sms_delivery_written_in_korean_and_sent(people, smsc):
    Profile.objects.create(phone="010-1234-5678", first_name="민지", language="ko")
    Profile.objects.create(phone="010-2345-6789", first_name="서연", language="ko")
    Audience.objects.create(name="SMS 고객", filter="")
    preparer = people("sms-maker", "prepare_deliveries", "ko")
    page = preparer.page
    page.get_by_role("link", name=preparer.t("Create a delivery")).click()
    page.fill("#id_label", "봄 세일 SMS")
    page.select_option("#id_channel", "sms")
    assert page.locator("#id_subject").is_hidden()  # email-only fields step aside
    page.fill("#id_sender", "1588")
    page.select_option("#id_audience", label="SMS 고객")
    page.locator("#id_approval_required").uncheck()
    counter = page.get_by_test_id("sms-fields")

    page.fill("#id_text_body", "Spring sale: 30% off. Reply STOP to opt out")
    assert page.get_by_test_id("sms-encoding").inner_text() == "GSM-7"
    assert page.get_by_test_id("sms-parts").inner_text() == "1"
    page.fill("#id_text_body", KOREAN)  # Hangul forces UCS-2: 67 per part
    assert page.get_by_test_id("sms-encoding").inner_text() == preparer.t("UCS-2 (Unicode)")
    assert page.get_by_test_id("sms-parts").inner_text() == "2"
    assert page.get_by_test_id("sms-units").inner_text() == str(len(KOREAN))
    assert page.get_by_test_id("sms-preview").locator("mark").count() > 0
    screenshot_of(counter, "sms-1-counter-ucs2-ko")
    screenshot(page, "sms-2-form-ko")
    page.locator("form button.primary").click()
    page.wait_for_url("**/deliveries/*/")
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.sender) == ("sms", "1588")

    preparer.button("Prepare").click()
    page.wait_for_selector("#live[data-status=ready]")
    assert Delivery.objects.get().parts == {"min": 2, "max": 2, "total": 4}

    starter = people("sms-starter", "start_deliveries", "ko")
    starter.page.goto(f"/deliveries/{delivery.pk}/")
    starter.button("Confirm send").click()
    starter.page.locator("dialog#confirm-send").get_by_role(
        "button", name=starter.t("OK")).click()
    starter.page.wait_for_selector("#live[data-status=in_progress]")
    Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)
    assert OutboxSms.objects.count() == 2
    assert Delivery.objects.get().status == "finished"

    starter.page.goto(f"/deliveries/{delivery.pk}/")
    kpis = starter.page.get_by_test_id("sms-kpis")
    assert kpis.locator("[data-kpi=parts_sent]").inner_text() == "4"
    assert kpis.locator("[data-kpi=delivered_rate]").inner_text().startswith("100")
    screenshot(starter.page, "sms-3-dashboard-ko")
    preparer.page.goto("/outbox/")
    assert "민지님, 봄 세일" in preparer.page.get_by_test_id("outbox-sms").inner_text()
    screenshot(preparer.page, "sms-4-outbox-ko")
