"""The delivery form's content: content modes, language variants, a draft that keeps
its work with every problem shown on its own field, and the editor's image upload."""

from __future__ import annotations

import hashlib
import io
import re
from html import unescape
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PillowImage

from envoi.accounts.models import AuditEntry
from envoi.content.models import DeliveryVariant, Image
from envoi.deliveries.models import Delivery
from tests.support.deliveries import seeded_audience
from tests.web.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

MJML = ("<mjml><mj-body><mj-section><mj-column>\n"
        "<mj-text>Hello {{ first_name }} <a href=\"{{ unsubscribe_url }}\">unsubscribe</a>"
        "</mj-text>\n</mj-column></mj-section></mj-body></mjml>")
BROKEN_MJML = ("<mjml><mj-body><mj-section><mj-column>\n"
               "  <mj-txt>Hello</mj-txt>\n"
               "</mj-column></mj-section></mj-body></mjml>")


def form(**changes) -> dict:
    data = {"label": "Spring", "sender": "Shop <news@shop.example.com>", "subject": "Hi",
            "audience": seeded_audience().pk, "content_mode": "mjml", "mjml_body": MJML,
            "text_body": "", "is_marketing": "on", "approval_required": "on",
            "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0"}
    data.update(changes)
    return data


def with_variants(data: dict, *variants: dict) -> dict:
    data["variants-TOTAL_FORMS"] = str(len(variants))
    for index, variant in enumerate(variants):
        for name, value in variant.items():
            data[f"variants-{index}-{name}"] = value
    return data


def findings_on(page: str) -> dict[str, list[str]]:
    """The findings the form shows, by the field they are on."""
    found: dict[str, list[str]] = {}
    for name, message in re.findall(r'data-finding="([^"]+)">(.*?)</p>', page, re.S):
        found.setdefault(name, []).append(unescape(re.sub(r"<[^>]+>", "", message)))
    return found


def test_an_mjml_delivery_with_variants_is_saved_compiled_per_language():
    client = signed_in("paula", "prepare_deliveries")
    data = with_variants(form(), {"language": "KO", "subject": "안녕하세요",
                                  "mjml_body": MJML.replace("Hello", "안녕")},
                         {"language": "ja", "subject": "", "mjml_body": MJML})
    response = client.post("/deliveries/new/", data)
    delivery = Delivery.objects.get()
    assert response["Location"] == f"/deliveries/{delivery.pk}/"
    assert delivery.content_mode == "mjml" and "mj-column-per-100" in delivery.compiled_html
    ko, ja = DeliveryVariant.objects.filter(delivery=delivery).order_by("position")
    assert (ko.language, ko.subject, ja.language) == ("ko", "안녕하세요", "ja")
    assert "안녕 {{ first_name }}" in ko.compiled_html

    # The edit form shows them as they are; removing one keeps the other.
    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'name="variants-0-language" value="ko"' in page
    data = with_variants(form(), {"language": "ko", "subject": "안녕하세요",
                                  "mjml_body": ko.mjml_body},
                         {"language": "ja", "mjml_body": MJML, "DELETE": "on"})
    data["variants-INITIAL_FORMS"] = "2"
    client.post(f"/deliveries/{delivery.pk}/edit/", data)
    assert list(DeliveryVariant.objects.values_list("language", flat=True)) == ["ko"]


def test_a_draft_keeps_its_work_and_shows_every_problem_on_its_field():
    """Broken MJML, a Liquid error in a variant's subject, no subject: all saved, and
    all shown at once, each on its field, with line and column, in the reader's
    language, never by an internal field name."""
    client = signed_in("paula", "prepare_deliveries", language="ko")
    data = with_variants(form(subject="", mjml_body=BROKEN_MJML),
                         {"language": "ko", "subject": "{{ first_name ", "mjml_body": MJML})
    response = client.post("/deliveries/new/", data, follow=True)
    delivery = Delivery.objects.get()
    assert delivery.mjml_body == BROKEN_MJML  # kept exactly as written
    assert response.redirect_chain == [(f"/deliveries/{delivery.pk}/edit/", 302)]
    page = response.content.decode()
    assert "초안을 저장했습니다. 준비하기 전에 표시된 문제를 고치세요." in page
    shown = findings_on(page)
    assert shown["subject"] == ["제목이 비어 있습니다."], shown
    mjml = " ".join(shown["mjml_body"])
    assert "2행 3열: " in mjml and "mj-txt" in mjml
    assert shown["variants-0-subject"] == [
        "1행 1열: 개인화 오류입니다. 제목 (ko): expected '}}', found end of file"]
    text = " ".join(message for messages in shown.values() for message in messages)
    assert not re.search(r"html_body|mjml_body|text_body", text)


def test_a_bad_language_code_is_shown_on_its_field_and_the_rest_is_kept():
    client = signed_in("paula", "prepare_deliveries", language="ja")
    data = with_variants(form(label="Kept label"), {"language": "korean!", "mjml_body": MJML})
    response = client.post("/deliveries/new/", data)
    page = response.content.decode()
    assert response.status_code == 400 and not Delivery.objects.exists()
    assert "ko、ja、pt-br などの言語コードを入力してください。" in page
    assert 'value="Kept label"' in page and 'value="korean!"' in page


def picture() -> bytes:
    buffer = io.BytesIO()
    PillowImage.new("RGB", (40, 30), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def images_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path))


def upload(client: Client, name: str, data: bytes):
    return client.post("/deliveries/images/", {"file": SimpleUploadedFile(name, data)})


def test_the_editor_uploads_an_image_with_the_session(images_dir):
    client = signed_in("paula", "prepare_deliveries")
    response = upload(client, "banner.png", picture())
    assert response.status_code == 200
    image = Image.objects.get()
    assert response.json()["id"] == image.pk
    assert response.json()["url"].endswith(f"/i/{image.pk}.png")
    served = client.get(f"/i/{image.pk}.png")
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert AuditEntry.objects.filter(action="image.upload", allowed=True).exists()


@pytest.mark.parametrize("name, data, message", [
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
     "SVG 이미지는 받지 않습니다"),
    ("setup.png", b"MZ\x90\x00" + b"\x00" * 200, "파일 이름과 관계없이"),
])
def test_refused_uploads_say_why_in_the_readers_language(images_dir, name, data, message):
    client = signed_in("paula", "prepare_deliveries", language="ko")
    response = upload(client, name, data)
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Image.objects.exists()


def test_an_oversized_upload_is_refused(images_dir, settings):
    settings.ENVOI_IMAGE_MAX_BYTES = 1024
    client = signed_in("paula", "prepare_deliveries")
    response = upload(client, "big.png", picture() + b"\x00" * 2048)
    assert response.status_code == 400 and "at most 1 KB" in response.json()["error"]


def test_the_upload_needs_the_permission_and_the_csrf_token(images_dir):
    approver = signed_in("andre", "approve_deliveries")
    refused = upload(approver, "a.png", picture())
    assert refused.status_code == 403
    assert refused.json()["error"] == "Your permissions do not allow you to upload images."
    signed_in("paula", "prepare_deliveries")
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="paula", password=PASSWORD)
    assert upload(strict, "a.png", picture()).status_code == 403
    assert not Image.objects.exists()


def test_a_refused_save_shows_the_contents_problems_with_the_refusal():
    """A sender the core cannot store refuses the save; the content's own problems are
    shown with it, on their fields, so that the preparer fixes everything in one go."""
    client = signed_in("paula", "prepare_deliveries")
    response = client.post("/deliveries/new/", form(sender="not an address",
                                                    mjml_body=BROKEN_MJML))
    page = response.content.decode()
    assert response.status_code == 400 and not Delivery.objects.exists()
    assert "sender" in page and BROKEN_MJML.split("\n")[1].strip() in unescape(page)
    shown = findings_on(page)
    assert shown["mjml_body"] == ["Line 2, column 3: MJML: unknown MJML element <mj-txt>"]
    assert "sender" not in shown


VENDOR = Path(__file__).resolve().parents[2] / "src/envoi/web/static/web/vendor"


def test_the_vendored_editor_matches_its_pinned_release():
    readme = (VENDOR / "README.md").read_text()
    pinned = dict(re.findall(r"\| `([\w./-]+)` \| `([0-9a-f]{64})` \|", readme))
    editor_files = {name for name in pinned if name.startswith(("grapesjs/", "font-awesome/"))}
    assert len(editor_files) == 6
    for name in editor_files:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == pinned[name], name


def test_the_editor_page_loosens_the_policy_for_styles_and_images_only(settings):
    settings.ENVOI_BASE_URL = "https://mail.shop.example.com"
    client = signed_in("paula", "prepare_deliveries")
    page = client.get("/deliveries/new/")
    policy = dict(rule.split(" ", 1) for rule in page["Content-Security-Policy"].split("; "))
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["img-src"] == "'self' data: https://mail.shop.example.com"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "cdn" not in page.content.decode().lower()


def test_a_rules_finding_names_the_field_by_its_label():
    """The divisor rule says which field it judged; the form says it as the reader's
    label, and the API's finding too, never ``html_body``."""
    client = signed_in("paula", "prepare_deliveries")
    body = MJML.replace("Hello", "Hello {{ 100 | divided_by: attributes.visits }}")
    response = client.post("/deliveries/new/", form(mjml_body=body), follow=True)
    delivery = Delivery.objects.get()
    shown = findings_on(client.get(f"/deliveries/{delivery.pk}/edit/").content.decode())
    divisor = [m for m in shown.get("mjml_body", []) if "divided_by" in m]
    assert divisor and divisor[0].startswith("Some targeted profiles lack a value"), shown
    assert "MJML: " in divisor[0] and "html_body" not in divisor[0]
    assert response.status_code == 200
