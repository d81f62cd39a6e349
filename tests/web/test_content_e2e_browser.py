"""One email from the visual editor to the mailboxes, in Chromium, in English and in
Korean.

A preparer builds the email in the visual editor (drags blocks, types the text,
inserts the first name, uploads a real PNG), adds a Korean and a Japanese variant,
previews it as a Korean profile at mobile width and sends a proof to a typed address;
the approver opens the approval screen, sees every variant and approves; a user who
may start deliveries confirms; a worker run in this process sends to the test's SMTP
server. The captured messages are then checked: Korean profiles got the Korean
variant, Japanese ones the Japanese variant, the rest the default; the HTML is MJML's
responsive output; the image it shows answers at its public address as a PNG.
Screenshots of the editor, the preview and the approval screen go to ``artifacts/``.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from envoi.audiences.models import Audience
from envoi.deliveries.models import Delivery
from envoi.sending.worker import Worker
from tests.content.support import PEOPLE, html_of, make_people
from tests.support.scenario import parse
from tests.web.browser import screenshot
from tests.web.test_content_editor_browser import (
    GREETINGS,
    SUBJECTS,
    add_variant,
    drag_block,
    image_files,  # noqa: F401 (the fixture, shared with the editor's test)
    upload_image,
    wait_for_editor,
    write_text,
)
from tests.web.test_content_review_browser import (
    preview_on_mobile_as,
    send_proof,
    without_web_fonts,
)

pytestmark = pytest.mark.django_db(transaction=True)

PROOF_ADDRESS = "agency@example.com"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_an_email_from_the_visual_editor_to_the_mailboxes(people, relay, image_files,  # noqa: F811
                                                          language):
    png, svg = image_files
    make_people()
    audience = Audience.objects.create(name="Everyone", filter="")
    preparer = people("paula", "prepare_deliveries", language)
    approver = people("ana", "approve_deliveries", language)
    starter = people("stella", "start_deliveries", language)
    for person in (preparer, approver, starter):
        without_web_fonts(person)

    delivery = build_in_the_editor(preparer, audience, svg, png)
    review_as_preparer(preparer, delivery)
    approve(approver, delivery)
    confirm(starter, delivery)
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}").run(until_idle=True)
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"
    check_mailboxes(relay.messages)


def build_in_the_editor(preparer, audience: Audience, svg, png) -> Delivery:
    page = preparer.page
    language = preparer.language
    page.goto("/deliveries/new/")
    page.fill("#id_label", f"Spring ({language})")
    page.fill("#id_sender", "Envoi Shop <news@shop.example.com>")
    page.select_option("#id_audience", label=audience.name)
    page.fill("#id_subject", SUBJECTS[""])
    canvas = wait_for_editor(page)
    drag_block(page, canvas, preparer.t("1 column", "editor"), canvas.locator("body"))
    column = canvas.locator("[data-gjs-type=mj-column]").first
    drag_block(page, canvas, preparer.t("Text", "editor"), column)
    write_text(preparer, canvas, GREETINGS[""])
    drag_block(page, canvas, preparer.t("Image", "editor"), column)
    upload_image(preparer, canvas, svg, png)
    for variant in ("ko", "ja"):
        add_variant(preparer, canvas, variant)
    screenshot(page, f"content-e2e-1-editor-{language}")
    preparer.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/(edit/)?$"))
    return Delivery.objects.get()


def review_as_preparer(preparer, delivery: Delivery) -> None:
    """Prepare, preview as a Korean profile on a phone, send a proof."""
    page = preparer.page
    page.goto(f"/deliveries/{delivery.pk}/")
    preparer.button("Prepare").click()
    page.wait_for_selector("#live[data-status=pending_approval]")
    preview_on_mobile_as(preparer, "minji")
    assert page.get_by_test_id("preview-subject").inner_text() == SUBJECTS["ko"]
    assert page.locator("iframe.message").evaluate("frame => frame.clientWidth") == 375
    message = page.frame_locator("iframe.message")
    message.get_by_text(f"{GREETINGS['ko']}, Minji").wait_for()
    message.locator("img[src$='.png']").first.wait_for()
    screenshot(page, f"content-e2e-2-preview-ko-mobile-{preparer.language}")
    send_proof(preparer, PROOF_ADDRESS)


def approve(approver, delivery: Delivery) -> None:
    page = approver.page
    page.goto(f"/deliveries/{delivery.pk}/")
    review = page.get_by_test_id("approval-review")
    assert review.get_by_test_id("approval-variant").count() == 3
    assert review.get_by_test_id("approval-count").inner_text() == str(len(PEOPLE))
    subjects = review.get_by_test_id("preview-subject").all_inner_texts()
    assert subjects == [SUBJECTS[""], SUBJECTS["ko"], SUBJECTS["ja"]]
    frames = review.locator("iframe.message")
    for index, language in enumerate(["", "ko", "ja"]):
        frames.nth(index).content_frame.get_by_text(GREETINGS[language]).wait_for()
    # Chromium does not paint a sandboxed frame outside the viewport.
    page.set_viewport_size({"width": 1280, "height": 2600})
    screenshot(page, f"content-e2e-3-approval-{approver.language}")
    approver.approve(delivery.pk)


def confirm(starter, delivery: Delivery) -> None:
    page = starter.page
    page.goto(f"/deliveries/{delivery.pk}/")
    starter.button("Confirm send").click()
    page.locator("dialog#confirm-send").get_by_role("button", name=starter.t("OK")).click()
    page.wait_for_selector("#live[data-status=in_progress]")


def check_mailboxes(captured) -> None:
    """The proof went to the typed address; each profile got the variant of its
    language, as MJML's responsive HTML, with an image that answers as a PNG."""
    by_address = {message.rcpt_to[0]: parse(message.data) for message in captured}
    proof = by_address.pop(PROOF_ADDRESS)
    assert proof["Subject"].startswith("[")  # "[Proof 1] …" in the preparer's words
    assert set(by_address) == set(PEOPLE)
    image_urls = set()
    for address, (_, variant) in PEOPLE.items():
        message = by_address[address]
        assert message["Subject"] == SUBJECTS[variant], address
        html = html_of(message)
        first_name = address.split("@")[0].title()
        # The editor types a space before the field as a no-break space.
        assert re.search(rf"{GREETINGS[variant]},\s{first_name}!", html), address
        # MJML's responsive output: its column classes, media query and Outlook tables.
        assert "mj-column-per-100" in html and "@media only screen" in html
        assert "<!--[if mso | IE]>" in html
        image_urls.update(re.findall(r'src="(http[^"]+/i/[A-Za-z0-9]+\.png)"', html))
    assert len(image_urls) == 1, image_urls
    with urllib.request.urlopen(image_urls.pop()) as response:  # noqa: S310 (live server)
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.read().startswith(b"\x89PNG")
