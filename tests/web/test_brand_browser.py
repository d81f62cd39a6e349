"""Administration → Brand in Chromium, in en, ko and ja: an administrator sets the
name, uploads a logo, picks the colour and writes the legal footer with the postal
address; the unsubscribe page's preview wears it, and so does the real subscription
form. Screenshots: artifacts/console-brand-{en,ko,ja}.png."""

from __future__ import annotations

import pytest

from envoi.consent.brand import brand
from envoi.content.models import Image
from tests.content.test_images import picture
from tests.web.browser import screenshot, screenshot_of

pytestmark = pytest.mark.django_db(transaction=True)

BRANDS = {
    "en": ("Harbour Books", "#0f766e",
           "Harbour Books Ltd.\n12 Quay Street, Bristol BS1 4DJ, United Kingdom"),
    "ko": ("한빛 상점", "#b45309",
           "(주)한빛상점 · 대표 김한빛\n서울특별시 강남구 테헤란로 123, 06234"),
    "ja": ("さくら書店", "#be123c",
           "株式会社さくら書店\n〒150-0002 東京都渋谷区渋谷1-2-3"),
}


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_an_administrator_sets_the_brand_and_previews_it(people, language, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path))
    name, colour, footer = BRANDS[language]
    logo = tmp_path / "logo.png"
    logo.write_bytes(picture("PNG", (160, 48)))
    admin = people(f"admin-{language}", "administration", language)
    page = admin.page
    page.get_by_role("link", name=admin.t("Brand"), exact=True).click()
    page.fill("#id_name", name)
    page.set_input_files("#id_logo", str(logo))
    page.fill("#id_color", colour)
    page.fill("#id_footer", footer)
    page.get_by_role("button", name=admin.t("Save"), exact=True).click()
    page.wait_for_selector("[data-testid=current-logo] img")
    assert admin.t("The brand was saved. Recipient pages wear it now.") in page.content()
    assert brand().name == name and Image.objects.count() == 1

    # Each preview is the unsubscribe page in its language, wearing the brand.
    for code in ("en", "ko", "ja"):
        frame = page.frame_locator(f"[data-testid=brand-preview-{code}]")
        header = frame.locator("header.brand")
        assert header.inner_text().strip() == name
        assert frame.locator("footer.legal").inner_text().splitlines()[-1] == \
            footer.splitlines()[-1]
        assert header.locator("img").evaluate("img => img.naturalWidth") == 160
    page.locator("[data-testid=brand-preview-ja]").scroll_into_view_if_needed()
    screenshot(page, f"console-brand-{language}")
    # A full-page capture leaves the frames blank; the section itself shows them drawn.
    screenshot_of(page.locator("section[aria-labelledby=preview-title]"),
                  f"console-brand-preview-{language}")

    # The real recipient page wears it too.
    visitor = page.context.new_page()
    visitor.goto("/subscribe")
    assert visitor.locator("header.brand span").inner_text() == name
    border = visitor.locator("header.brand").evaluate(
        "h => getComputedStyle(h).borderBottomColor")
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    assert border == f"rgb({red}, {green}, {blue})"
    visitor.close()
