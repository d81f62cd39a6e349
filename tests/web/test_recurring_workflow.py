"""A recurring delivery with *Request confirmation before sending*, done in the browser,
in English, Korean and Japanese (SPEC §4; the seed page's note on recurring deliveries
without an aggregation period).

A *Prepare deliveries* user creates a daily recurring delivery in the form (09:00 in
Seoul, no aggregation period: the option is on by default) and prepares it; an approver
approves it; a *Start deliveries* user confirms it, which starts its schedule. Envoi's
clock then moves to the first run and the worker runs its scheduler job: the run's
execution is prepared and waits, listed on the recurring delivery's dashboard. The
*Start deliveries* user opens it, clicks Confirm send, then OK, and the worker sends it
into the capture outbox. Screenshots of the Schedule block land in ``artifacts/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.utils import formats, timezone, translation

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import recurring
from envoi.deliveries.models import Delivery
from envoi.deliveries.recurring import RecurrenceSpec
from envoi.sending.models import OutboxMessage
from envoi.sending.worker import Worker
from tests.support.scenario import HTML, RECIPIENTS, TEXT, profile_rows, quarantine_bounced
from tests.web.browser import TIME_ZONES, Person, screenshot, screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)
SUBJECT = "{{ first_name }}, today's news · 오늘의 소식 · 今日のニュース"
# The clock fixture starts on Monday 5 January 2026, 09:00 UTC; 09:00 in Seoul the next
# day is the first run.
FIRST_RUN = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_each_run_waits_for_a_confirmation_before_sending(people, outbox, clock, language):
    audience = Audience.objects.create(name="Newsletter readers", filter="")
    create_profiles(profile_rows())
    quarantine_bounced()
    preparer = people("paula", "prepare_deliveries", language)
    approver = people("andre", "approve_deliveries", language)
    starter = people("stella", "start_deliveries", language)

    parent = create_and_prepare(preparer, audience, language)
    approve(approver, parent)
    confirm_the_schedule(starter, parent)
    execution = first_run_waits(starter, parent, clock)
    confirm_the_execution(starter, parent, execution)
    sent(starter, parent, execution)


def create_and_prepare(preparer: Person, audience: Audience, language: str) -> Delivery:
    page = preparer.page
    preparer.start_delivery_form(f"Daily news ({language})",
                                 "Envoi News <news@shop.example.com>", SUBJECT, audience.name,
                                 HTML, TEXT)
    page.fill("#id_time_zone", "Asia/Seoul")

    options = page.locator("[data-recurrence]")
    assert not options.is_visible()  # shown once the delivery is recurring
    page.check("#id_recurring")
    assert options.is_visible()
    page.select_option("#id_every", "day")
    page.fill("#id_at", "09:00")
    assert not page.locator("#id_cron").is_visible()
    confirmation = page.locator("#id_request_confirmation")
    assert confirmation.is_checked()  # on by default
    page.select_option("#id_aggregation", "week")
    assert confirmation.is_disabled()  # it only applies with no aggregation period
    page.select_option("#id_aggregation", "none")
    assert confirmation.is_enabled() and confirmation.is_checked()
    screenshot(page, f"recurring-1-form-{language}")
    preparer.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/$"))

    parent = Delivery.objects.get()
    assert recurring.spec_of(parent) == RecurrenceSpec("0 9 * * *", None, "none", True)
    assert parent.time_zone == "Asia/Seoul" and parent.contact_date is None
    preparer.button("Prepare").click()
    page.get_by_test_id("permission-banner").wait_for()
    parent.refresh_from_db()
    assert parent.status == "pending_approval"
    assert preparer.button("Confirm send").count() == 0
    return parent


def approve(approver: Person, parent: Delivery) -> None:
    approver.approve(parent.pk)


def confirm_the_schedule(starter: Person, parent: Delivery) -> None:
    page = starter.page
    page.goto(f"/deliveries/{parent.pk}/")
    block = page.get_by_test_id("schedule")
    # The schedule in words, with its zone, and the cron expression it is stored as.
    assert block.get_by_test_id("recurrence-words").inner_text() == starter.t(
        "Every day at %(time)s") % {"time": "09:00"} + ", Asia/Seoul"
    assert "0 9 * * *" in block.get_by_test_id("recurrence").inner_text()
    assert block.get_by_test_id("aggregation").inner_text() == starter.t(
        "None", "aggregation period")
    assert block.get_by_test_id("request-confirmation").get_attribute("data-state") == "on"
    assert block.get_by_test_id("schedule-confirmation").inner_text() == starter.t(
        "Not confirmed yet.")

    starter.button("Confirm send").click()
    dialog = page.locator("dialog#confirm-send")
    # What confirming allows, and when runs go.
    assert dialog.get_by_test_id("confirm-allows").inner_text() == starter.t(
        "The recurring delivery will run on its schedule: each run will be prepared, then "
        "wait for a confirmation before sending.")
    assert dialog.locator("[data-confirm=audience]").inner_text() == "Newsletter readers"
    assert dialog.locator("[data-confirm=when]").inner_text() == starter.t(
        "On its schedule") + ": " + starter.t("Every day at %(time)s") % {
        "time": "09:00"} + ", Asia/Seoul"
    dialog.get_by_role("button", name=starter.t("OK")).click()
    page.wait_for_selector("#live[data-status=in_progress]")
    assert page.locator(".messages").inner_text().strip() == starter.t(
        "The send is confirmed: the recurring delivery runs on its schedule.")

    next_run = block.get_by_test_id("next-run")
    assert next_run.locator("time").get_attribute("datetime") == "2026-01-06T09:00:00+09:00"
    assert next_run.locator("abbr").inner_text() == "KST"
    confirmed = block.get_by_test_id("schedule-confirmation").inner_text()
    assert starter.t("Each run still waits for its own confirmation.") in confirmed
    assert "stella" in confirmed
    screenshot_of(block, f"schedule-block-{starter.language}")


def first_run_waits(starter: Person, parent: Delivery, clock) -> Delivery:
    """The first run: the worker's scheduler job prepares its execution, which waits."""
    clock.set(FIRST_RUN)
    assert Worker().run(until_idle=True) == 0
    execution = Delivery.objects.get(parent=parent)
    assert (execution.status, execution.to_deliver) == ("ready", len(RECIPIENTS))
    assert not OutboxMessage.objects.exists()

    page = starter.page
    page.reload()
    row = page.get_by_test_id("executions").locator(f"tr[data-execution='{execution.pk}']")
    assert starter.t("Waiting for confirmation") in row.inner_text()
    assert starter.t("Ready to be delivered") in row.inner_text()
    # Under its parent, labelled with its run in the reader's locale and time zone.
    shown = local_run(starter, execution)
    assert row.get_by_test_id("execution-label").inner_text() == f"{parent.label} · {shown}"
    assert row.get_by_test_id("execution-period").inner_text() == shown
    assert execution.period not in row.inner_text()  # not the stored ISO key
    assert page.get_by_test_id("schedule").get_by_test_id(
        "next-run").locator("time").get_attribute("datetime") == "2026-01-07T09:00:00+09:00"
    screenshot(page, f"recurring-2-execution-waiting-{starter.language}")
    return execution


def local_run(person: Person, execution: Delivery) -> str:
    """The run's time as the console formats it for this person's locale and zone."""
    assert execution.contact_date is not None
    with translation.override(person.language), timezone.override(
            TIME_ZONES[person.language]):
        return formats.date_format(timezone.localtime(execution.contact_date),
                                   "SHORT_DATETIME_FORMAT")


def confirm_the_execution(starter: Person, parent: Delivery, execution: Delivery) -> None:
    page = starter.page
    page.get_by_test_id("executions").get_by_test_id("execution-label").click()
    page.wait_for_url(re.compile(rf".*/deliveries/{execution.pk}/$"))
    assert page.get_by_test_id("parent-link").inner_text() == parent.label
    assert starter.status() == starter.t("Ready to be delivered")

    dialog = page.locator("dialog#confirm-send")
    starter.button("Confirm send").click()
    assert dialog.locator("[data-confirm=count]").inner_text() == str(len(RECIPIENTS))
    assert dialog.locator("[data-confirm=label]").inner_text() == (
        f"{parent.label} · {local_run(starter, execution)}")
    screenshot(page, f"recurring-3-confirm-execution-{starter.language}")
    dialog.get_by_role("button", name=starter.t("OK")).click()
    page.wait_for_selector("#live[data-status=in_progress]")
    assert starter.status() == starter.t("In progress")


def sent(starter: Person, parent: Delivery, execution: Delivery) -> None:
    page = starter.page
    assert Worker().run(until_idle=True) == len(RECIPIENTS)
    page.wait_for_selector("#live[data-status=finished]", timeout=15_000)
    received = sorted(rcpt for rcpt in OutboxMessage.objects.values_list("rcpt_to", flat=True))
    assert received == sorted([address] for address in RECIPIENTS)

    page.get_by_test_id("parent-link").click()
    row = page.get_by_test_id("executions").locator(f"tr[data-execution='{execution.pk}']")
    assert starter.t("Finished") in row.inner_text()
    assert row.locator("td.number").last.inner_text() == str(len(RECIPIENTS))
    assert starter.t("Waiting for confirmation") not in row.inner_text()
    screenshot(page, f"recurring-4-execution-sent-{starter.language}")
