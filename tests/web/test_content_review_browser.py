"""Reviewing content in Chromium, in Korean and in English: the preparer previews the
message as a Korean profile at mobile width and sends a proof to a typed address (the
test's SMTP server receives it); the approver opens the approval screen, sees every
variant, and rejects with a reason, which the preparer reads; prepared again, it is
approved. Screenshots of the preview and the approval screen go to ``artifacts/``."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Audience, Profile
from envoi.content import templates
from envoi.content.models import Template
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.tracking.models import TrackingEvent
from tests.content.support import delivery_fields, make_people
from tests.support.deliveries import boss
from tests.support.scenario import parse
from tests.web.browser import Person, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

REASON = "The Japanese subject needs the sale dates."


def spring_delivery() -> Delivery:
    make_people()
    fields = delivery_fields(Audience.objects.create(name="Spring audience", filter="").pk)
    fields["audience"] = Audience.objects.get(pk=fields.pop("audience_id"))
    return services.create(boss(), **fields)


def test_preview_proof_reject_with_a_reason_then_approve(people, relay):
    delivery = spring_delivery()
    preparer = people("minseo", "prepare_deliveries", "ko")
    approver = people("ana", "approve_deliveries", "en")
    page = preparer.page
    for person in (preparer, approver):
        without_web_fonts(person)

    # The preparer prepares, then previews as a Korean profile at mobile width.
    page.goto(f"/deliveries/{delivery.pk}/")
    preparer.button("Prepare").click()
    page.wait_for_selector("#live[data-status=pending_approval]")
    preview_on_mobile_as(preparer, "minji")
    assert page.get_by_test_id("preview-subject").inner_text() == "Minji님, 봄 세일"
    frame = page.locator("iframe.message")
    assert frame.evaluate("frame => frame.clientWidth") == 375
    page.frame_locator("iframe.message").get_by_text("안녕하세요 Minji").wait_for()
    screenshot(page, "content-review-preview-ko-mobile")
    assert TrackingEvent.objects.count() == 0  # looking records nothing

    # A proof to a typed address, in the Japanese variant, rendered as Haruto.
    haruto = Profile.objects.get(email="haruto@example.jp")
    send_proof(preparer, "agency@example.com", language="ja", profile=haruto)
    (proof,) = relay.messages
    assert proof.rcpt_to == ("agency@example.com",)
    assert parse(proof.data)["Subject"] == "[Proof 1] Haruto様、春のセール"

    # The approver sees every variant, the audience and its count, then rejects.
    approver.page.goto(f"/deliveries/{delivery.pk}/")
    review = approver.page.get_by_test_id("approval-review")
    assert review.get_by_test_id("approval-variant").count() == 3
    assert review.get_by_test_id("approval-count").inner_text() == "6"
    subjects = review.get_by_test_id("preview-subject").all_inner_texts()
    assert subjects == ["Spring for Ada", "Minji님, 봄 세일", "Haruto様、春のセール"]
    frames = review.locator("iframe.message")
    for index, greeting in enumerate(["Hello Ada", "안녕하세요 Minji", "こんにちは Haruto"]):
        frames.nth(index).content_frame.get_by_text(greeting).wait_for()
    # Chromium does not paint a sandboxed frame outside the viewport: one tall enough
    # for the whole screen shows every variant in the screenshot.
    approver.page.set_viewport_size({"width": 1280, "height": 2600})
    screenshot(approver.page, "content-review-approval-en")
    approver.button("Reject").click()
    approver.page.fill("#reject-reason", REASON)
    approver.page.locator("#confirm-reject button.danger").click()
    approver.page.wait_for_selector("#live[data-status=editing]")

    # The preparer reads the reason, prepares again; the approver approves.
    page.goto(f"/deliveries/{delivery.pk}/")
    assert REASON in page.get_by_test_id("rejection").inner_text()
    screenshot(page, "content-review-rejected-ko")
    preparer.button("Prepare").click()
    page.wait_for_selector("#live[data-status=pending_approval]")
    approver.approve(delivery.pk)
    approved = Delivery.objects.get(pk=delivery.pk)
    assert approved.approval["content_hash"] == approved.prepared_hash
    assert approved.rejection == {}


def without_web_fonts(person: Person) -> None:
    """MJML's output links its web font; this machine has no internet, where a hanging
    request would hold the frame's first paint."""
    person.page.route("https://fonts.googleapis.com/**", lambda route: route.abort())


def preview_on_mobile_as(person: Person, query: str) -> None:
    """From the delivery's page, preview the message as the first profile ``query``
    finds, at mobile width."""
    page = person.page
    page.get_by_role("link", name=person.t("Preview"), exact=True).click()
    page.fill("input[name=q]", query)
    page.get_by_role("button", name=person.t("Search"), exact=True).click()
    page.get_by_test_id("profile-results").get_by_role("link").first.click()
    page.get_by_test_id("width-switch").get_by_role(
        "link", name=person.t("Mobile")).click()
    page.wait_for_selector(".frame.mobile iframe.message")


def send_proof(person: Person, address: str, language: str = "",
               profile: Profile | None = None) -> None:
    """From the preview, send a proof to a typed ``address``."""
    page = person.page
    page.get_by_role("link", name=person.t("Send a proof…")).click()
    page.fill("#id_addresses", address)
    if language:
        page.select_option("#id_language", language)
    if profile is not None:
        page.select_option("#id_profile", str(profile.pk))
    page.get_by_role("button", name=person.t("Send proof"), exact=True).click()
    page.wait_for_selector(".message.success")


def test_a_template_is_renamed_then_deleted_in_korean(people):
    delivery = spring_delivery()
    preparer = people("minseo", "prepare_deliveries", "ko")
    template = templates.create_template(boss(), from_delivery=delivery, name="Spring")
    page = preparer.page
    page.goto("/templates/")
    page.get_by_test_id("templates").get_by_role("link", name=preparer.t("Edit")).click()
    page.fill("#id_name", "")
    preparer.button("Save").click()
    page.get_by_role("alert").wait_for()
    page.fill("#id_name", "봄 세일 템플릿")
    page.fill("#id_description", "4월용")
    screenshot(page, "content-template-edit-ko")
    preparer.button("Save").click()
    page.wait_for_url("**/templates/")
    assert "봄 세일 템플릿" in page.get_by_test_id("templates").inner_text()
    page.goto(f"/templates/{template.pk}/edit/")
    preparer.button("Delete").click()
    page.locator("dialog#confirm-delete button.danger").click()
    page.wait_for_url("**/templates/")
    assert not Template.objects.exists()


def test_a_test_profile_is_marked_from_the_profiles_list_in_japanese(people):
    make_people()
    preparer = people("haru", "prepare_deliveries", "ja")
    page = preparer.page
    page.goto("/profiles/?q=haruto")
    preparer.button("Mark as test profile").click()
    page.wait_for_url("**/profiles/?q=haruto")
    assert page.get_by_test_id("is-test").inner_text().startswith(preparer.t("Yes"))
    screenshot(page, "content-profiles-test-mark-ja")
    assert Profile.objects.get(email="haruto@example.jp").is_test
