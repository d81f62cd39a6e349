"""The brand set in the console: stored in the database over the ENVOI_BRAND_*
defaults, its logo through the image service, refusals on their field in the reader's
language, audited, and previewed on the unsubscribe page."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from envoi.accounts.models import AuditEntry
from envoi.consent.brand import brand, from_environment
from envoi.consent.models import BrandSettings
from envoi.content.models import Image
from tests.content.test_images import SVG, picture
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

FOOTER = "Sakura Shop K.K.\n1-2-3 Shibuya, Shibuya-ku, Tokyo 150-0002"


@pytest.fixture(autouse=True)
def environment_brand(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path))  # uploaded logos
    settings.ENVOI_BRAND_NAME = "Envoi Default"
    settings.ENVOI_BRAND_COLOR = "#1d4ed8"
    settings.ENVOI_BRAND_FOOTER = "Default Co.\\nSomewhere 1"
    settings.ENVOI_BRAND_LOGO_URL = ""


def logo_file(data: bytes | None = None, name: str = "logo.png"):
    return SimpleUploadedFile(name, data or picture("PNG", (120, 40)), "image/png")


def test_the_brand_set_here_dresses_every_recipient_page():
    assert brand() == from_environment()
    admin = signed_in("ada", "administration")
    saved = admin.post("/admin/brand/", {"name": "Sakura Shop", "color": "#0F766E",
                                          "footer": FOOTER, "logo": logo_file()})
    assert saved.status_code == 302
    image = Image.objects.get()
    page = Client().get("/subscribe", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "Sakura Shop" in page and "Envoi Default" not in page
    assert f"/i/{image.filename}" in page and "#0f766e" in page
    assert "1-2-3 Shibuya, Shibuya-ku, Tokyo 150-0002" in page
    assert Client().get(f"/i/{image.filename}").status_code == 200
    entry = AuditEntry.objects.get(action="brand.edit")
    assert entry.actor_name == "ada"
    assert sorted(entry.detail["fields"]) == ["color", "footer", "logo", "name"]
    assert "Shibuya" not in str(entry.detail)  # names of fields, never the values
    assert AuditEntry.objects.filter(action="image.upload").exists()


def test_an_empty_field_keeps_the_environments_value():
    admin = signed_in("ada", "administration")
    assert admin.post("/admin/brand/", {"name": "Only The Name"}).status_code == 302
    current = brand()
    assert current.name == "Only The Name"
    assert current.footer_lines == ("Default Co.", "Somewhere 1")
    assert current.color == "#1d4ed8" and current.logo_url == ""
    form = admin.get("/admin/brand/").content.decode()
    assert 'placeholder="Envoi Default"' in form and 'value="Only The Name"' in form
    # Back to the environment's brand altogether.
    assert admin.post("/admin/brand/reset/").status_code == 302
    assert brand() == from_environment() and not BrandSettings.objects.exists()
    assert AuditEntry.objects.filter(action="brand.reset").exists()


@pytest.mark.parametrize(("language", "colour", "logo"), [
    ("ko", "색상은 #rrggbb 형식으로 입력하세요", "SVG 이미지는 받지 않습니다"),
    ("ja", "色は #rrggbb の形式で入力してください", "SVG 画像は受け付けません"),
])
def test_refusals_are_on_their_field_in_the_readers_language(language, colour, logo):
    admin = signed_in("ada", "administration", language=language)
    bad_colour = admin.post("/admin/brand/", {"name": "X", "color": "teal"})
    assert bad_colour.status_code == 400 and colour in bad_colour.content.decode()
    svg = admin.post("/admin/brand/", {"name": "X",
                                       "logo": logo_file(SVG, "logo.svg")})
    assert svg.status_code == 400 and logo in svg.content.decode()
    assert not BrandSettings.objects.exists() and not Image.objects.exists()


def test_only_administrators_set_the_brand():
    preparer = signed_in("pat", "prepare_deliveries")
    assert preparer.post("/admin/brand/", {"name": "Hijacked"}).status_code == 403
    assert preparer.get("/admin/brand/preview/").status_code == 403
    assert brand().name == "Envoi Default"


@pytest.mark.parametrize(("language", "title"), [
    ("en", "Unsubscribe"), ("ko", "수신 거부"), ("ja", "配信停止")])
def test_the_preview_is_the_unsubscribe_page_in_each_language(language, title):
    admin = signed_in("ada", "administration")
    admin.post("/admin/brand/", {"name": "Sakura Shop", "footer": FOOTER})
    preview = admin.get(f"/admin/brand/preview/?language={language}")
    page = preview.content.decode()
    assert preview.status_code == 200 and preview["Content-Language"] == language
    assert re.search(rf"<h1>{title}", page) and "Sakura Shop" in page
    assert "frame-ancestors 'self'" in preview["Content-Security-Policy"]
    assert "form-action 'none'" in preview["Content-Security-Policy"]
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    console = admin.get("/admin/brand/").content.decode()
    assert f'/admin/brand/preview/?language={language}"' in console


ADDRESS = "〒150-0002 東京都渋谷区渋谷1-2-3"
CONTACT = "03-1234-5678"


def test_address_and_contact_are_set_here_audited_and_fill_the_legal_footer(settings):
    from datetime import UTC, datetime

    from envoi.audiences.models import Profile
    from envoi.consent.models import NoticeKind
    from envoi.consent.notice_mail import notice_message

    settings.ENVOI_BRAND_FOOTER = ""
    settings.ENVOI_BRAND_ADDRESS = "Environment Street 1"
    settings.ENVOI_BRAND_CONTACT = ""
    assert brand().address == "Environment Street 1" and brand().contact == ""
    admin = signed_in("ada", "administration")
    assert admin.post("/admin/brand/", {"name": "Sakura Shop", "address": ADDRESS,
                                        "contact": CONTACT}).status_code == 302
    current = brand()
    assert (current.address, current.contact) == (ADDRESS, CONTACT)
    assert current.legal_lines == ("Sakura Shop", ADDRESS, CONTACT)
    entry = AuditEntry.objects.get(action="brand.edit")
    assert sorted(entry.detail["fields"]) == ["address", "contact", "name"]
    assert ADDRESS not in str(entry.detail) and CONTACT not in str(entry.detail)
    # A recipient page and the consent notice mail both end with them.
    page = Client().get("/subscribe", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert ADDRESS in page and CONTACT in page and "Environment Street" not in page
    profile = Profile.objects.create(email="sakura@example.jp", language="ja")
    message, _ = notice_message(profile, NoticeKind.GRANTED, datetime(2026, 1, 5, tzinfo=UTC))
    text = message.get_content()
    assert text.endswith(f"-- \nSakura Shop\n{ADDRESS}\n{CONTACT}\n")
    # Emptied here: the environment's address applies again.
    admin.post("/admin/brand/", {"name": "Sakura Shop", "address": "", "contact": ""})
    assert brand().address == "Environment Street 1"


@pytest.mark.parametrize(("fields", "field"), [
    ({"address": "x" * 301}, "address"),
    ({"contact": "x" * 201}, "contact"),
    ({"address": "Shibuya\t1-2-3"}, "address"),
    ({"contact": "03-1234\x1b[31m"}, "contact"),
    ({"name": "Sakura\x07Shop"}, "name"),
    ({"footer": "Sakura Shop K.K.\nShibuya\x0b1-2-3"}, "footer"),
])
def test_address_and_contact_are_checked(fields, field):
    from envoi.consent.brand import BrandChange, BrandError, save_brand
    from tests.support.deliveries import boss

    change = BrandChange(**{"name": "Sakura Shop", "color": "", "footer": "", **fields})
    with pytest.raises(BrandError) as refused:
        save_brand(boss(), change)
    assert list(refused.value.errors) == [field]
    assert not BrandSettings.objects.exists()


@pytest.mark.parametrize(("language", "words"), [
    ("ko", "제어 문자 없이 한 줄로 입력하세요"),
    ("ja", "制御文字を使わず、1 行で入力してください"),
])
def test_a_control_character_is_refused_on_its_field_in_the_readers_language(language,
                                                                             words):
    admin = signed_in("ada", "administration", language=language)
    with translation.override("en"):  # the request's language stays with the request
        refused = admin.post("/admin/brand/", {"name": "X", "contact": "03\t1234"})
    assert refused.status_code == 400 and words in refused.content.decode()
    assert not BrandSettings.objects.exists()
