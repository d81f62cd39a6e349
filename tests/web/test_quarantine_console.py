"""The quarantine page (SPEC §8): list, filters, search, history, and the release that
only administrators may do — through the same core function as the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.accounts.models import AuditEntry
from envoi.bounces import quarantine
from envoi.bounces.models import Quarantine, QuarantineEvent
from envoi.sending.models import SendingLog
from tests.support.deliveries import delivery_in
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def failures(*failed: tuple[str, str, str]) -> None:
    quarantine.note_failures([quarantine.Failure(address, kind, reason, "bounce")
                              for address, kind, reason in failed], NOW)


@pytest.fixture
def addresses():
    failures(("gone@example.com", "hard", "user_unknown"),
             ("full@example.com", "soft", "mailbox_full"),
             ("Nowhere@Example.org", "hard", "invalid_domain"))
    quarantine.denylist("angry@example.com", "complaint", NOW)
    Quarantine.objects.create(address="fine@example.com")  # valid: listed only when asked


def rows(page: str) -> list[str]:
    import re

    return re.findall(r'<tr data-address="([^"]+)">', page)


def test_the_list_filters_by_status_and_reason_and_searches_addresses(addresses):
    client = signed_in("watcher", "prepare_deliveries")
    page = client.get("/quarantine/").content.decode()
    assert sorted(rows(page)) == ["angry@example.com", "full@example.com", "gone@example.com",
                                  "nowhere@example.org"]
    assert rows(client.get("/quarantine/", {"status": "erroneous"}).content.decode()) == [
        "full@example.com"]
    assert rows(client.get("/quarantine/", {"status": "valid"}).content.decode()) == [
        "fine@example.com"]
    assert rows(client.get("/quarantine/", {"reason": "invalid_domain"}).content.decode()) == [
        "nowhere@example.org"]
    assert sorted(rows(client.get("/quarantine/", {"q": "EXAMPLE.COM"}).content.decode())) == [
        "angry@example.com", "fine@example.com", "full@example.com", "gone@example.com"]
    assert rows(client.get("/quarantine/", {"q": "Nowhere@example.ORG"}).content.decode()) == [
        "nowhere@example.org"]
    odd = client.get("/quarantine/", {"status": "nonsense", "reason": "x" * 99, "page": "-1"})
    assert odd.status_code == 200 and rows(odd.content.decode()) == []


def test_the_list_is_paged():
    failures(*[(f"user{n:03d}@example.com", "hard", "user_unknown") for n in range(60)])
    client = signed_in("watcher", "approve_deliveries")
    first = client.get("/quarantine/").content.decode()
    assert len(rows(first)) == 50 and "?page=2" in first
    second = client.get("/quarantine/", {"page": 2}).content.decode()
    assert len(rows(second)) == 10 and not set(rows(first)) & set(rows(second))


def test_each_address_shows_its_history_in_the_readers_language(addresses):
    failures(("full@example.com", "soft", "mailbox_full"))  # the same day: not counted
    sent = delivery_in("in_progress")
    row = SendingLog.objects.filter(delivery=sent).first()
    record = Quarantine.objects.get(address="gone@example.com")
    QuarantineEvent.objects.filter(address=record.address).update(row_id=row.pk)
    client = signed_in("watcher", "prepare_deliveries", language="ja")
    page = client.get(f"/quarantine/{record.pk}/").content.decode()
    assert "有効 → 強制隔離" in page and "不明なユーザー" in page
    assert f'<a href="/deliveries/{sent.pk}/">' in page  # the message that failed
    full = Quarantine.objects.get(address="full@example.com")
    history = client.get(f"/quarantine/{full.pk}/").content.decode()
    assert history.count("<td>有効 → エラーあり</td>") == 1  # one soft error a day


def test_an_administrator_releases_an_address(addresses):
    record = Quarantine.objects.get(address="gone@example.com")
    admin = signed_in("root", "administration")
    page = admin.get(f"/quarantine/{record.pk}/").content.decode()
    assert f'action="/quarantine/{record.pk}/release/"' in page
    response = admin.post(f"/quarantine/{record.pk}/release/", {"note": "fixed by the user"})
    assert response["Location"] == f"/quarantine/{record.pk}/"
    record.refresh_from_db()
    assert record.status == "valid"
    event = QuarantineEvent.objects.filter(address=record.address).order_by("-id").first()
    assert (event.source, event.actor, event.note) == ("manual", "root", "fixed by the user")
    assert AuditEntry.objects.filter(action="quarantine.release", actor_name="root",
                                     allowed=True).exists()
    shown = admin.get(f"/quarantine/{record.pk}/").content.decode()
    assert "Released by hand" in shown and "fixed by the user" in shown

    listed = Quarantine.objects.get(address="angry@example.com")
    back = admin.post(f"/quarantine/{listed.pk}/release/",
                      {"back": "/quarantine/?status=denylisted"}, follow=True)
    assert back.redirect_chain[-1][0] == "/quarantine/?status=denylisted"
    assert "The address was released: it is valid again." in back.content.decode()
    elsewhere = admin.post(f"/quarantine/{listed.pk}/release/", {"back": "https://evil.test/"})
    assert elsewhere["Location"] == f"/quarantine/{listed.pk}/"


def test_only_administrators_may_release(addresses):
    record = Quarantine.objects.get(address="gone@example.com")
    starter = signed_in("stella", "start_deliveries", language="ko")
    page = starter.get(f"/quarantine/{record.pk}/").content.decode()
    assert "/release/" not in page  # no button for them
    refused = starter.post(f"/quarantine/{record.pk}/release/", follow=True)
    assert "권한이 없어 격리를 관리할 수 없습니다." in refused.content.decode()
    record.refresh_from_db()
    assert record.status == "quarantined"
    assert AuditEntry.objects.filter(action="quarantine.manage", actor_name="stella",
                                     allowed=False).exists()
    assert starter.get("/quarantine/").status_code == 200
    assert signed_in("importer", "import").get("/quarantine/").status_code == 403
    assert signed_in("importer2", "import").get(
        "/profiles/").content.decode().count('href="/quarantine/"') == 0
    assert 'href="/quarantine/"' in starter.get("/deliveries/").content.decode()
    assert starter.get("/quarantine/424242/").status_code == 404


def test_an_erroneous_address_released_before_its_time(addresses):
    record = Quarantine.objects.get(address="full@example.com")
    Quarantine.objects.filter(pk=record.pk).update(last_error_at=NOW - timedelta(days=1))
    admin = signed_in("root", "administration")
    admin.post(f"/quarantine/{record.pk}/release/")
    assert Quarantine.objects.get(pk=record.pk).status == "valid"
