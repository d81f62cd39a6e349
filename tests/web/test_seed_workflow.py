"""The seed page "Confirming the send", done in the browser, in English, Korean and Japanese.

Three people, each in their own browser context, on the real console served by a live
server: a *Prepare deliveries* user creates and prepares the delivery and is told that
they may not confirm it; an approver approves it; a *Start deliveries* user clicks
Confirm send, then OK. The real worker sends through SMTP into the embedded capture
outbox; the Deployment block shows the progress and then the KPIs, and the sending log
below it turns Sent, without a reload. Looking at the captured messages in the
console's outbox records nothing; opens and clicks are made by reading them as their
recipients would, in a browser without a console session; Compute stats updates the
rates; the recipient's profile page shows the message. Screenshots of each step land
in ``artifacts/``.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.deliveries.models import Delivery
from envoi.sending.models import OutboxMessage, SendingLog, SendStatus
from envoi.sending.worker import Worker
from envoi.tracking.models import TrackingEvent
from envoi.web.views.outbox import parsed
from tests.support.scenario import HTML, RECIPIENTS, TEXT, profile_rows, quarantine_bounced
from tests.web.browser import DESKTOP_AGENT, Person, screenshot

pytestmark = pytest.mark.django_db(transaction=True)
SUBJECT = "{{ first_name }}님, 봄맞이 쿠폰 · 春のクーポン"


def seed_audience() -> Audience:
    create_profiles(profile_rows())
    quarantine_bounced()
    return Audience.objects.create(name="Spring customers", filter="")


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_confirming_the_send(people, outbox, settings, language):
    settings.ENVOI_MACHINE_CLICK_SECONDS = 0  # the test clicks within seconds of sending
    audience = seed_audience()
    preparer = people("paula", "prepare_deliveries", language)
    approver = people("andre", "approve_deliveries", language)
    starter = people("stella", "start_deliveries", language)

    delivery = create_and_prepare(preparer, audience, language)
    approve(approver, delivery)
    confirm_send(starter, delivery)
    watch_progress_then_kpis(starter, delivery)
    opened, clicked = open_and_click_in_outbox(starter)
    compute_stats(starter, delivery, opened, clicked)
    profile_shows_the_message(starter, delivery)
    starter.page.goto("/deliveries/")
    assert starter.page.locator(f"tr[data-delivery='{delivery.pk}']").is_visible()
    screenshot(starter.page, f"6-deliveries-list-{language}")


def create_and_prepare(preparer: Person, audience: Audience, language: str) -> Delivery:
    page = preparer.page
    preparer.start_delivery_form(f"Spring sale ({language})",
                                 "Envoi Shop <news@shop.example.com>", SUBJECT, audience.name,
                                 HTML, TEXT)
    preparer.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/$"))
    delivery = Delivery.objects.get()

    preparer.button("Prepare").click()
    page.get_by_test_id("permission-banner").wait_for()
    delivery.refresh_from_db()
    assert delivery.status == "pending_approval"
    assert preparer.status() == preparer.t("Pending approval")
    banner = page.get_by_test_id("permission-banner").inner_text()
    assert banner == preparer.t("Your permissions do not allow you to confirm a delivery.")
    assert preparer.button("Confirm send").count() == 0
    kpi = page.locator(".deployment [data-kpi=to_deliver]").inner_text()
    assert kpi == str(delivery.to_deliver) == str(len(RECIPIENTS))
    assert page.locator(".deployment [data-kpi=targeted]").inner_text() == str(
        delivery.targeted)
    screenshot(page, f"1-prepared-permission-banner-{language}")
    return delivery


def approve(approver: Person, delivery: Delivery) -> None:
    approver.approve(delivery.pk)
    page = approver.page
    # An approver holds no Start deliveries role either: the banner says so.
    assert page.get_by_test_id("permission-banner").is_visible()
    assert approver.button("Confirm send").count() == 0


def confirm_send(starter: Person, delivery: Delivery) -> None:
    page = starter.page
    page.goto(f"/deliveries/{delivery.pk}/")
    assert page.get_by_test_id("permission-banner").count() == 0
    dialog = page.locator("dialog#confirm-send")

    starter.button("Confirm send").click()  # Cancel leaves everything as it was
    assert dialog.is_visible()
    dialog.get_by_role("button", name=starter.t("Cancel")).click()
    assert not dialog.is_visible()
    assert Delivery.objects.get(pk=delivery.pk).status == "approved"

    starter.button("Confirm send").click()
    # The dialog states what will happen: which delivery, to whom, how many, and when.
    facts = dialog.get_by_test_id("confirm-facts")
    assert facts.locator("[data-confirm=label]").inner_text() == delivery.label
    assert facts.locator("[data-confirm=audience]").inner_text() == "Spring customers"
    assert facts.locator("[data-confirm=count]").inner_text() == str(len(RECIPIENTS))
    assert facts.locator("[data-confirm=when]").inner_text() == starter.t("Now")
    with translation.override(starter.language):
        said = translation.ngettext(
            "Messages are ready to be sent: %(count)s message to “%(audience)s”.",
            "Messages are ready to be sent: %(count)s messages to “%(audience)s”.",
            len(RECIPIENTS)) % {"count": len(RECIPIENTS), "audience": "Spring customers"}
    assert dialog.get_by_text(said).is_visible()
    screenshot(page, f"2-confirm-dialog-{starter.language}")
    dialog.get_by_role("button", name=starter.t("OK")).click()
    page.wait_for_selector("#live[data-status=in_progress]")
    assert starter.status() == starter.t("In progress")
    assert page.locator(".deployment").get_attribute("data-phase") == "sending"
    assert page.locator(".deployment [data-kpi=processed]").inner_text().startswith("0")
    screenshot(page, f"3-sending-{starter.language}")


def watch_progress_then_kpis(starter: Person, delivery: Delivery) -> None:
    page = starter.page
    page.evaluate("window.stillTheSamePage = true")
    # The sending log below the block lists every row as pending, and the preparation's
    # figures stay on the block while it sends.
    log = page.locator("#logs table.log")
    assert log.locator(".send.pending").count() == len(RECIPIENTS)
    assert kpi(page, "targeted") == str(delivery.targeted)
    sent = Worker(smtp_url=f"smtp://127.0.0.1:{outbox_port()}").run(until_idle=True)
    assert sent == len(RECIPIENTS)

    page.wait_for_selector(".deployment[data-phase=after]", timeout=15_000)
    # The log refreshed with the block: every row turned Sent, without a reload.
    page.wait_for_function(
        "n => document.querySelectorAll('#logs table.log .send.sent').length === n",
        arg=len(RECIPIENTS), timeout=15_000)
    assert log.locator(".send.pending").count() == 0
    assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
    assert kpi(page, "targeted") == str(delivery.targeted)
    screenshot(page, f"3b-sending-log-sent-{starter.language}")
    assert starter.status() == starter.t("Finished")
    delivered = SendingLog.objects.filter(delivery=delivery, status=SendStatus.SENT).count()
    assert delivered == len(RECIPIENTS) == OutboxMessage.objects.count()
    assert kpi(page, "to_deliver") == str(delivery.to_deliver)
    assert kpi(page, "sent").startswith(f"{delivered} ")
    assert "100.0%" in kpi(page, "sent")
    assert kpi(page, "delivered_rate") == "100.0%"
    assert kpi(page, "failed_rate") == "0.0%"
    assert kpi(page, "open_rate") == "0.0%"
    page.locator(".charts figure").first.wait_for()
    screenshot(page, f"4-dashboard-sent-{starter.language}")


def outbox_port() -> int:
    return int(settings.ENVOI_SMTP_URL.rsplit(":", 1)[1])


def kpi(page, name: str) -> str:
    return page.locator(f".deployment [data-kpi={name}]").inner_text()


def open_and_click_in_outbox(starter: Person) -> tuple[int, int]:
    """Look at two captured messages in the console's outbox (which records nothing),
    then read them as their recipients would in a mail client — a browser with no
    console session: the pixel loads (an open), and one recipient clicks the shop link.
    Returns (messages opened, messages clicked)."""
    page = starter.page
    readers = ["minji@example.com", "haruto@example.jp"]
    for address in readers:
        page.goto("/outbox/")
        row = page.locator("tr", has_text=address)
        row.get_by_role("link").click()
        frame = page.frame_locator("iframe.message")
        frame.get_by_text("Spring").wait_for()
        body = next(f for f in page.frames if f.url.endswith("/body/"))
        body.wait_for_function("() => [...document.images].every(image => image.complete)")
        # In the console, the link goes straight to the shop: no click is counted.
        href = frame.get_by_role("link", name="Spring").get_attribute("href")
        assert href == "https://shop.example.com/spring?utm=mail"
    assert not TrackingEvent.objects.exists(), "a console look was counted"

    mail_client = page.context.browser.new_context(user_agent=DESKTOP_AGENT)
    try:
        for address in readers:
            read_as_recipient(mail_client, address, click=address == readers[0])
    finally:
        mail_client.close()
    events = TrackingEvent.objects.values_list("kind", flat=True)
    assert sorted(events) == ["click", "open", "open"], list(events)
    return len(readers), 1


def read_as_recipient(mail_client, address: str, click: bool) -> None:
    message = next(m for m in OutboxMessage.objects.order_by("id") if address in m.rcpt_to)
    html = parsed(message).get_body(("html",)).get_content()
    page = mail_client.new_page()
    page.set_content(html, wait_until="load")  # the pixel loads, as in a mail client
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    if click:
        with page.expect_request(going_to_the_shop) as shop:
            page.get_by_role("link", name="Spring").click()
        assert shop.value.url == "https://shop.example.com/spring?utm=mail"
        assert shop.value.redirected_from.url.startswith(f"{settings.ENVOI_BASE_URL}/c/")
    page.close()


def going_to_the_shop(request) -> bool:
    return request.url.startswith("https://shop.example.com/")


def compute_stats(starter: Person, delivery: Delivery, opened: int, clicked: int) -> None:
    page = starter.page
    page.goto(f"/deliveries/{delivery.pk}/")
    # The stored rates are as of the last computation: before these opens and clicks.
    assert kpi(page, "open_rate") == "0.0%"
    starter.button("Compute stats").click()
    page.wait_for_selector(".deployment[data-phase=after]")
    delivered = SendingLog.objects.filter(delivery=delivery, status=SendStatus.SENT).count()
    assert kpi(page, "open_rate") == f"{100 * opened / delivered:.1f}%"
    assert kpi(page, "click_rate") == f"{100 * clicked / delivered:.1f}%"
    assert page.locator(".messages").inner_text().strip() == starter.t(
        "The statistics were computed from the logs.")
    page.locator(".charts figure").first.wait_for()
    screenshot(page, f"dashboard-{starter.language}")


def profile_shows_the_message(starter: Person, delivery: Delivery) -> None:
    page = starter.page
    page.get_by_role("link", name=starter.t("Profiles"), exact=True).click()
    page.fill("input[name=q]", "minji@example.com")
    page.locator("form[role=search] button").click()
    profile = Profile.objects.get(email="minji@example.com")
    page.locator(f"a[href='/profiles/{profile.pk}/']").first.click()
    messages = page.get_by_test_id("history-messages")
    row = messages.locator("tr", has_text=delivery.label)
    assert starter.t("Sent", "message status") in row.inner_text()
    events = page.get_by_test_id("history-events").inner_text()
    with translation.override(starter.language):
        assert starter.t("Click") in events and starter.t("Open") in events
    with page.context.expect_page() as mirror:
        row.get_by_role("link", name=starter.t("View the message")).click()
    mirror.value.wait_for_load_state()
    assert "안녕하세요 민지" in mirror.value.content()
    screenshot(page, f"5-profile-history-{starter.language}")
