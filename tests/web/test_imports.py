"""The console's import: upload, map with a preview, choose the mode, follow the
progress, download the rows left out; and its export links."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import create_user
from envoi.audiences import jobs
from envoi.audiences.models import ImportJob, Profile
from envoi.audiences.services import count_filter

pytestmark = pytest.mark.django_db

CSV = ("Mail,Given name,Notes,VIP\n"
       "kim@example.com,민준,x,yes\n"
       "not-an-address,Bad,y,no\n"
       "=HYPERLINK(1),Formula,z,no\n"
       "sato@example.jp,さくら,w,no\n")


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(jobs, "RUNNER", jobs.run)  # the thread's work, run inline
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    client.force_login(create_user("ina", ["import", "export", "prepare_deliveries"]))
    return client


def test_upload_map_import_and_download_the_rejected_rows(client):
    response = client.post("/profiles/import/",
                           {"file": SimpleUploadedFile("people.csv", CSV.encode())})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/profiles/import/{job.pk}/"
    assert job.total_rows == 4

    page = client.get(f"/profiles/import/{job.pk}/").content.decode()
    assert "민준" in page and "not-an-address" in page  # the preview of the first rows
    assert "가져올 항목" in page  # in Korean

    refused = client.post(f"/profiles/import/{job.pk}/", {
        "column_0": "email", "column_1": "first_name", "column_2": "shoe_size",
        "column_3": "attributes.vip:boolean", "mode": "update"})
    assert "shoe_size" in refused.content.decode()
    response = client.post(f"/profiles/import/{job.pk}/", {
        "column_0": "email", "column_1": "first_name", "column_2": "",
        "column_3": "attributes.vip:boolean", "mode": "update", "list_name": "Spring"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created, job.updated, job.rejected) == ("done", 2, 0, 2)
    assert count_filter("attributes.vip = true") == 1

    progress = client.get(f"/profiles/import/{job.pk}/progress/").content.decode()
    assert 'data-status="done"' in progress and "hx-trigger" not in progress
    assert "생성 2" in progress
    report = client.get(f"/profiles/import/{job.pk}/rejected.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode())))
    assert [row[0] for row in rows[1:]] == ["3", "4"]
    assert rows[2][1].startswith("이메일")  # in the language of the page that ran it
    entry = AuditEntry.objects.get(action="profile.import")
    assert (entry.detail["created"], entry.detail["rejected"]) == (2, 2)
    assert not jobs.upload_dir().joinpath(job.path).exists()


def test_a_running_import_is_polled_and_a_second_start_is_ignored(client):
    client.post("/profiles/import/", {"file": SimpleUploadedFile("a.csv", b"email\na@x.example\n")})
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.RUNNING, done_rows=0)
    progress = client.get(f"/profiles/import/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in progress and 'value="0"' in progress
    client.post(f"/profiles/import/{job.pk}/", {"column_0": "email", "mode": "update"})
    assert Profile.objects.count() == 0


def test_the_export_links_stream_csv(client):
    Profile.objects.create(email="a@example.com", first_name="+1")
    response = client.get("/profiles/export.csv")
    body = b"".join(response.streaming_content).decode()
    assert "'+1" in body and "a@example.com" in body
    assert "/profiles/import/" in client.get("/profiles/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_import_runs_in_a_background_thread_and_reports_progress():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(create_user("thread", ["import"]))
    rows = "".join(f"t{n}@example.com,{n % 2 == 0}\n" for n in range(30_000))
    client.post("/profiles/import/", {"file": SimpleUploadedFile(
        "big.csv", ("email,attributes.even\n" + rows).encode())})
    job = ImportJob.objects.get()
    client.post(f"/profiles/import/{job.pk}/", {"column_0": "email",
                                                "column_1": "attributes.even", "mode": "add"})
    seen = set()
    deadline = time.monotonic() + 120
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
        seen.add(job.done_rows)
    assert (job.status, job.created, job.message) == ("done", 30_000, "")
    assert count_filter("attributes.even = true") == 15_000
    assert job.percent == 100
