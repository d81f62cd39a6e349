"""Image upload: accepted by content (PNG, JPEG, GIF, WebP), refused otherwise with a
clear message; served at a public, immutable URL."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PillowImage

from envoi.content.models import Image
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _images_in_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVOI_DATA_DIR", str(tmp_path))


@pytest.fixture
def api():
    return Api("paula", "prepare_deliveries")


def picture(kind: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    PillowImage.new("RGB", size, (200, 30, 90)).save(buffer, format=kind)
    return buffer.getvalue()


def upload(api: Api, name: str, data: bytes, content_type: str = "image/png"):
    return api.client.post("/api/v1/images",
                           {"file": SimpleUploadedFile(name, data, content_type)},
                           headers=api._headers())


@pytest.mark.parametrize("kind,extension,content_type", [
    ("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"),
    ("GIF", "gif", "image/gif"), ("WEBP", "webp", "image/webp"),
])
def test_an_image_is_stored_and_served_at_its_public_url(api, kind, extension, content_type):
    data = picture(kind)
    # The name lies on purpose: the content decides.
    response = upload(api, "photo.bin", data, "application/octet-stream")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == f"http://testserver/i/{body['id']}.{extension}"
    assert (body["content_type"], body["width"], body["height"]) == (content_type, 40, 30)
    served = Client().get(body["url"].removeprefix("http://testserver"))  # no login
    assert served.status_code == 200 and served.content == data
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Cache-Control"] == "public, max-age=31536000, immutable"


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200


@pytest.mark.parametrize("name,data,detail", [
    ("logo.svg", SVG, "SVG images are not accepted"),
    ("logo.png", SVG, "SVG images are not accepted"),
    ("setup.png", EXECUTABLE, "not a PNG, JPEG, GIF or WebP image, whatever its name says"),
    ("run.jpg", ELF, "not a PNG, JPEG, GIF or WebP image"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "cannot be read as one"),
    ("empty.png", b"", "The file is empty."),
])
def test_what_is_not_an_accepted_image_is_refused(api, name, data, detail):
    response = upload(api, name, data)
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert not Image.objects.exists()


def test_an_oversized_file_is_refused(api, settings):
    settings.ENVOI_IMAGE_MAX_BYTES = 2048
    data = picture("PNG", (400, 400)) + b"\x00" * 4096  # a valid start, past the limit
    response = upload(api, "big.png", data)
    assert response.status_code == 400
    size_kb = -(-len(data) // 1024)
    assert response.json()["detail"] == (
        f"The file is {size_kb} KB; images may be at most 2 KB.")
    assert not Image.objects.exists()
    assert upload(api, "small.png", picture("PNG", (4, 4))).status_code == 201


@pytest.mark.parametrize("language,start", [("ko", "SVG 이미지는 받지 않습니다"),
                                             ("ja", "SVG 画像は受け付けません")])
def test_refusal_is_translated(api, language, start):
    response = api.client.post("/api/v1/images",
                               {"file": SimpleUploadedFile("x.svg", SVG, "image/svg+xml")},
                               headers={**api._headers(), "Accept-Language": language})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(start)


def test_upload_needs_the_permission_and_a_file(api):
    approver = Api("andre", "approve_deliveries")
    assert upload(approver, "a.png", picture("PNG")).status_code == 403
    missing = api.client.post("/api/v1/images", {}, headers=api._headers())
    assert missing.status_code == 422 and "file" in missing.content.decode()


def test_an_unknown_image_is_a_404(api):
    assert Client().get("/i/nothing.png").status_code == 404
    assert Client().get("/i/x.svg").status_code == 404
