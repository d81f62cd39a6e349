"""A preparer writes an email in the visual editor (GrapesJS with MJML), in Chromium, in
English and in Korean.

On the real console served by a live server, the preparer drags blocks onto the
canvas, types the text, inserts a personalization field and the unsubscribe link from
the text toolbar, uploads an image (first an SVG, which is refused with the message in
the reader's language, then a real PNG), adds a Korean and a Japanese variant with
their own subject and text, and saves. The stored delivery is then checked: content
mode visual, each variant's MJML compiled into MJML's responsive HTML, and the image
answering at its public address as a PNG. Reopening the draft shows the same content
in the editor. Screenshots of the editor go to ``artifacts/``.
"""

from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image as PillowImage

from envoi.audiences.models import Audience
from envoi.content.models import DeliveryVariant
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from tests.web.browser import Person, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

GREETINGS = {"": "Spring sale for you", "ko": "봄맞이 할인", "ja": "春のセール"}
SUBJECTS = {"": "Our spring sale", "ko": "봄맞이 할인 안내", "ja": "春のセールのお知らせ"}
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'


@pytest.fixture
def image_files(tmp_path, monkeypatch):
    """Uploaded images under a temporary data directory; the files a preparer picks."""
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path / "data"))
    png = tmp_path / "banner.png"
    buffer = io.BytesIO()
    PillowImage.new("RGB", (600, 200), (30, 120, 200)).save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    svg = tmp_path / "logo.svg"
    svg.write_bytes(SVG)
    return png, svg


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_preparer_builds_an_email_in_the_visual_editor(people, image_files, language):
    png, svg = image_files
    audience = Audience.objects.create(name="Everyone", filter="")
    preparer = people("paula", "prepare_deliveries", language)
    page = preparer.page
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto("/deliveries/new/")
    page.fill("#id_label", f"Spring ({language})")
    page.fill("#id_sender", "Envoi Shop <news@shop.example.com>")
    page.select_option("#id_audience", label=audience.name)
    page.fill("#id_subject", SUBJECTS[""])
    assert page.locator("input[name=content_mode][value=visual]").is_checked()
    canvas = wait_for_editor(page)

    drag_block(page, canvas, preparer.t("1 column", "editor"), canvas.locator("body"))
    column = canvas.locator("[data-gjs-type=mj-column]").first
    drag_block(page, canvas, preparer.t("Text", "editor"), column)
    write_text(preparer, canvas, GREETINGS[""])
    drag_block(page, canvas, preparer.t("Image", "editor"), column)  # opens the images
    upload_image(preparer, canvas, svg, png)
    screenshot(page, f"content-editor-default-{language}")

    for variant in ("ko", "ja"):
        add_variant(preparer, canvas, variant)
    screenshot(page, f"content-editor-variant-ja-{language}")

    preparer.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/(edit/)?$"))
    delivery = Delivery.objects.get()
    check_stored(delivery)
    reopen(preparer, delivery)
    assert script_errors == []


def wait_for_editor(page):
    page.locator(".gjs-frame").wait_for()
    canvas = page.frame_locator(".gjs-frame")
    canvas.locator("body").wait_for()
    page.locator(".gjs-block").first.wait_for()
    return canvas


def drag_block(page, canvas, label: str, target) -> None:
    """Drag the block named ``label`` from the blocks panel onto ``target`` in the
    canvas, as a mouse does (a native drag: press, move a little, move over the
    target, let go)."""
    block = page.locator(".gjs-block", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    page.locator(".gjs-editor").scroll_into_view_if_needed()
    block.scroll_into_view_if_needed()
    start = block.bounding_box()
    box = target.bounding_box()  # in the page's coordinates, frame included
    x, y = box["x"] + box["width"] / 2, box["y"] + min(box["height"] - 5, 20)
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 - 10, start["y"] + 10, steps=5)
    page.wait_for_timeout(100)
    page.mouse.move(x, y, steps=15)
    page.wait_for_timeout(100)
    page.mouse.move(x + 1, y + 1, steps=3)
    page.wait_for_timeout(100)
    page.mouse.up()
    page.wait_for_timeout(300)


def write_text(person: Person, canvas, words: str) -> None:
    """Type in the text block, then insert the first name and the unsubscribe link from
    the text toolbar."""
    page = person.page
    text = canvas.locator("[data-gjs-type=mj-text]").first
    text.dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(words + ", ")
    toolbar = page.locator(".gjs-rte-toolbar select[data-testid=insert-field]")
    toolbar.select_option(label=person.t("First name", "editor"))
    page.keyboard.type("! ")
    toolbar.select_option(label=person.t("Unsubscribe link", "editor"))
    page.keyboard.press("Escape")
    canvas.locator("body").click(position={"x": 5, "y": 5})


def upload_image(person: Person, canvas, refused: Path, accepted: Path) -> None:
    page = person.page
    uploader = page.locator(".gjs-am-file-uploader input[type=file]")
    uploader.set_input_files(str(refused))
    error = page.locator("[data-upload-error]")
    error.wait_for()
    assert error.inner_text() == person.t(
        "SVG images are not accepted (they can carry scripts, and many mailboxes do not "
        "show them): upload a PNG, JPEG, GIF or WebP.")
    screenshot(page, f"content-editor-refused-svg-{person.language}")
    uploader.set_input_files(str(accepted))
    page.locator(".gjs-mdl-container").wait_for(state="hidden")
    image = canvas.locator("[data-gjs-type=mj-image] img").first
    assert re.search(r"/i/[A-Za-z0-9]+\.png$", image.get_attribute("src") or "")


def add_variant(person: Person, canvas, language: str) -> None:
    page = person.page
    page.fill("#new-variant-language", language)
    page.locator("[data-add-variant]").click()
    tab = page.locator(f"[data-variant-tab]:text-is('{language}')")
    assert tab.get_attribute("aria-selected") == "true"
    prefix = tab.get_attribute("data-variant-tab")
    page.fill(f"#id_{prefix}-subject", SUBJECTS[language])
    write_text(person, canvas, GREETINGS[language])


def check_stored(delivery: Delivery) -> None:
    assert delivery.content_mode == "visual"
    variants = {v.language: v for v in DeliveryVariant.objects.filter(delivery=delivery)}
    assert set(variants) == {"ko", "ja"}
    bodies = {"": (delivery.mjml_body, delivery.compiled_html, delivery.subject)}
    bodies.update({lang: (v.mjml_body, v.compiled_html, v.subject)
                   for lang, v in variants.items()})
    image_url = None
    for language, (mjml, compiled, subject) in bodies.items():
        assert subject == SUBJECTS[language]
        assert mjml.startswith("<mjml") and "<mj-image" in mjml, mjml
        assert GREETINGS[language] in mjml and "{{ first_name }}" in mjml
        assert "{{ unsubscribe_url }}" in mjml
        # MJML's responsive output: its column classes and Outlook's conditional tables.
        assert "mj-column-per-100" in compiled and "<!--[if mso | IE]>" in compiled
        assert GREETINGS[language] in compiled and "{{ first_name }}" in compiled
        found = re.search(r'src="(http[^"]+/i/[A-Za-z0-9]+\.png)"', compiled)
        assert found, compiled
        image_url = image_url or found.group(1)
    with urllib.request.urlopen(image_url) as response:  # noqa: S310 (the live server)
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.read().startswith(b"\x89PNG")


def reopen(person: Person, delivery: Delivery) -> None:
    """The draft reopens with the editor showing what was saved."""
    page = person.page
    page.goto(f"/deliveries/{delivery.pk}/edit/")
    canvas = wait_for_editor(page)
    canvas.get_by_text(GREETINGS[""]).wait_for()
    page.locator("[data-variant-tab]:text-is('ko')").click()
    canvas.get_by_text(GREETINGS["ko"]).wait_for()
    screenshot(page, f"content-editor-reopened-ko-{person.language}")
    # Saved again untouched, the content is byte for byte what it was.
    before = sources(delivery)
    person.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/(edit/)?$"))
    assert sources(delivery) == before


def sources(delivery: Delivery) -> list[str]:
    delivery.refresh_from_db()
    return [delivery.mjml_body, *DeliveryVariant.objects.filter(delivery=delivery)
            .order_by("position").values_list("mjml_body", flat=True)]


HAND_WRITTEN = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="16px" color="#333333">Hello {{ first_name }},
          <a href="{{ unsubscribe_url }}">unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


def test_an_untouched_draft_saved_from_the_editor_keeps_its_mjml_as_written(people):
    """The editor writes MJML its own way; until the preparer changes something, the
    source stays as it was written (a save changes nothing, and voids nothing)."""
    preparer = people("paula", "prepare_deliveries", "ja")
    delivery = services.create(preparer_user(), label="Hand written",
                               sender="Shop <news@shop.example.com>", subject="Hi",
                               content_mode="visual", mjml_body=HAND_WRITTEN)
    page = preparer.page
    page.goto(f"/deliveries/{delivery.pk}/edit/")
    canvas = wait_for_editor(page)
    canvas.get_by_text("unsubscribe").wait_for()
    screenshot(page, "content-editor-hand-written-ja")
    preparer.button("Save").click()
    page.wait_for_url(re.compile(r".*/deliveries/\d+/(edit/)?$"))
    delivery.refresh_from_db()
    assert delivery.mjml_body == HAND_WRITTEN


def preparer_user() -> User:
    return User.objects.get(username="paula")
