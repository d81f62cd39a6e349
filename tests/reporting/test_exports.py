"""CSV exports: the export role, cells a spreadsheet will not run, audit, and memory that
stays bounded however many rows stream."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncRequestFactory

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import create_user
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.preparation.models import ExclusionLog
from envoi.reporting import exports
from envoi.tracking.ingest import record_events
from tests.reporting.factory import delivery_with_rows, event
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def exporter():
    return Api("erin", "export")


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_sending_log_export_neutralises_formulas_and_is_audited(exporter):
    delivery, rows = delivery_with_rows(["sent", "failed", "sent"])
    rows[1].smtp_reply = '=HYPERLINK("http://evil.example","x")'
    rows[1].save()
    rows[2].address = "@SUM(A1)@example.com"
    rows[2].save()
    table = rows_of(exporter.get(f"/deliveries/{delivery.pk}/export/sending-log"))
    assert table[0][:4] == ["id", "profile_id", "address", "status"]
    assert [row[3] for row in table[1:]] == ["sent", "failed", "sent"]
    assert table[2][6] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert table[3][2] == "'@SUM(A1)@example.com"
    entry = AuditEntry.objects.get(action="logs.export")
    assert entry.delivery_id == delivery.pk and entry.detail == {"log": "sending-log"}


@pytest.mark.parametrize("cell, shown", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("a=b", "a=b"), (-1, -1), (True, "true"), (None, ""),
])  # fmt: skip
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(cell, shown):
    assert exports.safe_cell(cell) == shown


def test_other_logs_and_kpis(exporter):
    delivery, rows = delivery_with_rows(["sent", "sent", "failed"])
    record_events([event(rows[0], "open", 1), event(rows[0], "click", 2, link_index=0)])
    ExclusionLog.objects.create(delivery=delivery, profile_id=7, address="-x@example.com",
                                reason="duplicate")
    exclusions = rows_of(exporter.get(f"/deliveries/{delivery.pk}/export/exclusion-log"))
    assert exclusions[1][1:] == ["7", "'-x@example.com", "duplicate"]
    tracking = rows_of(exporter.get(f"/deliveries/{delivery.pk}/export/tracking-log"))
    assert [row[3] for row in tracking[1:]] == ["open", "click"]
    other, _ = delivery_with_rows(["sent"], label="=cmd|' /C calc'!A0", first_profile=5000)
    kpis = rows_of(exporter.get("/exports/kpis", deliveries=f"{delivery.pk},{other.pk}"))
    header = kpis[0]
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in kpis[1:]}
    assert (by_id[str(delivery.pk)]["delivered"], by_id[str(delivery.pk)]["failed"]) == ("2", "1")
    assert by_id[str(other.pk)]["label"] == "'=cmd|' /C calc'!A0"
    assert exporter.get("/exports/kpis", deliveries="1,x").status_code == 400
    assert exporter.get(f"/deliveries/{delivery.pk}/export/secrets").status_code == 400
    assert exporter.get("/deliveries/999999/export/sending-log").status_code == 404


def test_profiles_of_an_audience_or_all(exporter):
    Profile.objects.create(email="ko@example.com", first_name="=2+3", language="ko",
                           attributes={"vip": True})
    Profile.objects.create(email="en@example.com", language="en")
    koreans = Audience.objects.create(name="Koreans", filter='language = "ko"')
    listed = Audience.objects.create(name="List", kind=Audience.LIST)
    AudienceMember.objects.create(audience=listed, profile=Profile.objects.get(language="en"))
    everyone = rows_of(exporter.get("/exports/profiles"))
    assert [row[2] for row in everyone[1:]] == ["ko@example.com", "en@example.com"]
    korean = rows_of(exporter.get("/exports/profiles", audience=koreans.pk))
    record = dict(zip(korean[0], korean[1], strict=True))
    assert (record["first_name"], record["attributes"]) == ("'=2+3", '{"vip": true}')
    assert len(korean) == 2
    assert [row[2] for row in rows_of(exporter.get("/exports/profiles",
                                                   audience=listed.pk))[1:]] == [
        "en@example.com"]
    assert AuditEntry.objects.filter(action="profile.export").count() == 3
    unknown = exporter.get("/exports/profiles", audience=999_999)
    assert unknown.status_code == 400 and "audience 999999" in unknown.json()["detail"]


def test_exports_need_the_export_role():
    viewer = Api("wanda", "workflow", "prepare_deliveries", "administration")
    delivery, _ = delivery_with_rows(["sent"])
    assert viewer.get("/exports/profiles").status_code == 403
    assert viewer.get(f"/deliveries/{delivery.pk}/export/sending-log").status_code == 403
    assert viewer.get("/exports/kpis", deliveries=str(delivery.pk)).status_code == 403
    assert viewer.get("/exports/profiles", audience=999).status_code == 403  # no oracle
    assert AuditEntry.objects.filter(allowed=False).count() == 4


def test_under_asgi_the_rows_stream_from_an_async_iterator():
    delivery, _ = delivery_with_rows(["sent"] * 12)
    user = create_user("asgi", ["export"])
    request = AsyncRequestFactory().get("/")
    export = exports.delivery_log(user, delivery.pk, "sending-log", page_size=5)
    response = exports.streaming_response(request, export)
    assert response.is_async

    async def read() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(read)()
    assert len(chunks) == 1 + 3  # the header, then pages of 5, 5 and 2 rows
    assert b"".join(chunks).count(b"\n") == 13


def fill_sending_log(delivery_id: int, count: int) -> None:
    """``count`` rows in one statement, as preparation would write them."""
    series = ("SELECT generate_series(1, %s) AS n" if connection.vendor == "postgresql" else
              "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
              "SELECT n FROM s")
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO sending_sendinglog (delivery_id, profile_id, address, status,
                failure_type, failure_reason, smtp_reply, attempts, claimed_by, message_id,
                variant)
            SELECT %s, n, 'member' || n || '@example.com', 'sent', '', '', '250 2.0.0 Ok',
                   1, '', '<' || n || '@mail.example.com>', ''
            FROM ({series}) numbers""", [delivery_id, count])


def peak_export_memory(count: int) -> tuple[int, int]:
    """(rows written, peak bytes allocated while streaming them)."""
    delivery, _ = delivery_with_rows([])
    fill_sending_log(delivery.pk, count)
    user = create_user(f"big{count}", ["export"])
    tracemalloc.start()
    try:
        written = 0
        for chunk in exports.delivery_log(user, delivery.pk, "sending-log").lines():
            written += chunk.count("\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return written - 1, peak


def test_fifty_thousand_rows_stream_in_bounded_memory():
    written, peak = peak_export_memory(50_000)
    assert written == 50_000
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.big
@pytest.mark.skipif(not os.environ.get("ENVOI_TEST_BIG"),
                    reason="the million-row run takes minutes: set ENVOI_TEST_BIG=1 (the "
                           "default suite checks the same bound at 50,000 rows)")
def test_a_million_sending_log_rows_stream_in_bounded_memory():
    written, peak = peak_export_memory(1_000_000)
    print(f"\n1,000,000-row sending-log export on {connection.vendor}: "
          f"peak {peak / 1e6:.1f} MB allocated by Python")
    assert written == 1_000_000
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
