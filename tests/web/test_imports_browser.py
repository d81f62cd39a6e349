"""The import page in Chromium, in Korean: upload, map with the preview, import, and
watch the progress bar reach the counts (htmx polls the job)."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from tests.web.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

CSV = ("메일,이름,VIP\n"
       + "".join(f"member{n}@example.com,지우{n},{'yes' if n % 2 else 'no'}\n"
                 for n in range(2000))
       + "broken-address,민준,yes\n")


def test_an_import_in_korean_from_upload_to_counts(people):
    person = people("uploader", "import", "ko")
    page = person.page
    page.goto("/profiles/import/")
    page.set_input_files("input[name=file]", files=[{
        "name": "회원.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    page.locator("form button.primary").click()
    page.get_by_test_id("preview").wait_for()
    assert "member0@example.com" in page.get_by_test_id("preview").inner_text()
    page.fill("input[name=column_0]", "email")
    page.fill("input[name=column_1]", "first_name")
    page.fill("input[name=column_2]", "attributes.vip:boolean")
    screenshot(page, "import-mapping-ko")
    page.locator("form button.primary").click()
    page.wait_for_selector("#import-progress[data-status=done]", timeout=60_000)
    counts = page.get_by_test_id("counts").inner_text()
    assert "생성 2000" in counts and "거부 1" in counts
    assert "broken-address" in page.locator("#import-progress table").inner_text()
    screenshot(page, "import-done-ko")
    assert Profile.objects.filter(attributes__vip=True).count() == 1000
