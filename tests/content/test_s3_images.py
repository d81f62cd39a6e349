"""Images in S3-compatible storage (``ENVOI_IMAGE_STORAGE=s3://bucket/prefix``).

No S3 service runs here: the peer is moto's standalone server, a separate process that
speaks the S3 protocol over HTTP, reached by boto3 as any S3-compatible endpoint would be
(``ENVOI_S3_ENDPOINT_URL``). The images keep their public ``/i/…`` URLs, served by Envoi
with the year-long cache headers, and nothing is written to the data directory.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PillowImage

from envoi.content.models import Image
from tests.support.api import Api
from tests.support.smtpd import free_port

pytestmark = pytest.mark.django_db

BUCKET = "envoi-images"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    pytest.importorskip("moto.server")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto's S3 server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3(s3_server, monkeypatch, settings, tmp_path):
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "envoi-test", "AWS_SECRET_ACCESS_KEY": "secret",
                        "AWS_DEFAULT_REGION": "us-east-1",
                        "ENVOI_S3_ENDPOINT_URL": s3_server,
                        "ENVOI_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    settings.ENVOI_IMAGE_STORAGE = f"s3://{BUCKET}/campaigns"
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for found in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=found["Key"])


def picture() -> bytes:
    buffer = io.BytesIO()
    PillowImage.new("RGB", (40, 30), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api: Api, name: str, data: bytes):
    return api.client.post("/api/v1/images",
                           {"file": SimpleUploadedFile(name, data, "image/png")},
                           headers=api._headers())


def test_an_upload_goes_to_the_bucket_and_is_served_at_its_url(s3, tmp_path):
    api = Api("paula", "prepare_deliveries")
    data = picture()
    created = api.ok(upload(api, "banner.png", data), 201)
    image = Image.objects.get(pk=created["id"])
    assert image.storage == "s3"
    stored = s3.get_object(Bucket=BUCKET, Key=f"campaigns/{image.filename}")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/png"
    assert not (tmp_path / "images").exists()  # nothing on the local disk
    served = Client().get(created["url"].removeprefix("http://testserver"))
    assert served.status_code == 200 and served.content == data
    assert served["Content-Type"] == "image/png"
    assert served["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_refused_upload_writes_nothing_to_the_bucket(s3):
    api = Api("paula", "prepare_deliveries")
    response = upload(api, "logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert response.status_code == 400
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_an_object_gone_from_the_bucket_is_a_404(s3):
    api = Api("paula", "prepare_deliveries")
    created = api.ok(upload(api, "banner.png", picture()), 201)
    s3.delete_object(Bucket=BUCKET, Key=f"campaigns/{created['id']}.png")
    assert Client().get(f"/i/{created['id']}.png").status_code == 404


def test_images_kept_on_disk_stay_served_after_moving_to_s3(s3, settings):
    api = Api("paula", "prepare_deliveries")
    settings.ENVOI_IMAGE_STORAGE = "filesystem"
    on_disk = api.ok(upload(api, "old.png", picture()), 201)
    settings.ENVOI_IMAGE_STORAGE = f"s3://{BUCKET}/campaigns"
    assert Client().get(f"/i/{on_disk['id']}.png").status_code == 200


def test_a_storage_url_without_a_bucket_is_refused_naming_the_variable(s3, settings):
    settings.ENVOI_IMAGE_STORAGE = "s3://"
    api = Api("paula", "prepare_deliveries")
    response = upload(api, "banner.png", picture())
    assert response.status_code == 400
    assert "ENVOI_IMAGE_STORAGE" in response.json()["detail"]
