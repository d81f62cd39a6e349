"""The reporting faces: KPIs, Compute stats, the tracking log, profile history, CLI."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Profile
from envoi.cli import main
from envoi.sending.models import SendingLog
from envoi.tracking.ingest import record_events
from tests.reporting.factory import at, delivery_with_rows, event
from tests.support.api import Api
from tests.support.deliveries import boss

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    return Api("wanda", "workflow")  # may view deliveries and logs, nothing more


@pytest.fixture
def importer():
    return Api("ivan", "import")  # may not view deliveries or logs


@pytest.fixture
def sent():
    """Four messages (three went out, one failed); two opened, one of them clicked."""
    delivery, rows = delivery_with_rows(["sent", "sent", "sent", "failed"])
    record_events([event(rows[0], "open", 1), event(rows[0], "click", 2, link_index=0),
                   event(rows[1], "open", 3, machine=True)])
    return delivery, rows


def test_kpis_are_computed_on_first_read_then_stay_as_stored(viewer, sent):
    delivery, rows = sent
    first = viewer.ok(viewer.get(f"/deliveries/{delivery.pk}/kpis"))
    assert first["delivery_id"] == delivery.pk and first["computed_at"]
    assert first["kpis"]["opens"] == 2 and first["kpis"]["open_rate"] == 2 / 3
    assert first["kpis"]["open_rate_human"] == 1 / 3 and first["kpis"]["click_rate"] == 1 / 3
    assert first["counts"]["sent"] == 3 and first["counts"]["failed"] == 1

    record_events([event(rows[2], "mirror", 4)])
    SendingLog.objects.filter(pk=rows[3].pk).update(status="pending")  # live counts move
    again = viewer.ok(viewer.get(f"/deliveries/{delivery.pk}/kpis"))
    assert again["computed_at"] == first["computed_at"] and again["kpis"] == first["kpis"]
    assert again["counts"]["failed"] == 0 and again["counts"]["pending"] == 1


def test_compute_stats_recomputes_now_and_is_audited(viewer, sent):
    delivery, rows = sent
    viewer.ok(viewer.get(f"/deliveries/{delivery.pk}/kpis"))
    record_events([event(rows[2], "mirror", 4)])
    fresh = viewer.ok(viewer.post(f"/deliveries/{delivery.pk}/compute-stats"))
    assert fresh["kpis"]["opens"] == 3 and fresh["kpis"]["mirror_views"] == 1
    assert viewer.ok(viewer.get(f"/deliveries/{delivery.pk}/kpis"))["kpis"] == fresh["kpis"]
    entry = AuditEntry.objects.get(action="delivery.compute_stats")
    assert (entry.actor_name, entry.delivery_id, entry.allowed) == ("wanda", delivery.pk, True)


def test_reporting_needs_the_view_role_and_a_real_id(importer, viewer, sent):
    delivery, _ = sent
    for path in ("kpis", "logs/tracking"):
        assert importer.get(f"/deliveries/{delivery.pk}/{path}").status_code == 403
        assert viewer.get(f"/deliveries/99999/{path}").status_code == 404
    assert importer.post(f"/deliveries/{delivery.pk}/compute-stats").status_code == 403
    assert viewer.post("/deliveries/99999/compute-stats").status_code == 404
    assert viewer.post(f"/deliveries/{2**63}/compute-stats").status_code in (404, 422)
    assert AuditEntry.objects.filter(action="delivery.view", allowed=False).count() == 2


def test_tracking_log_pages_and_filters_by_kind(viewer, sent):
    delivery, rows = sent
    record_events([event(rows[2], "open", 5), event(rows[2], "click", 6, link_index=1)])
    url = f"/deliveries/{delivery.pk}/logs/tracking"
    last = viewer.ok(viewer.get(url, page=3, page_size=2))
    assert last["count"] == 5 and len(last["results"]) == 1
    clicks = viewer.ok(viewer.get(url, kind="click"))
    assert [(e["row_id"], e["link_index"], e["url"]) for e in clicks["results"]] == [
        (rows[0].pk, 0, "https://shop.example.com/0"),
        (rows[2].pk, 1, "https://shop.example.com/1")]
    assert clicks["results"][0]["at"].startswith("2026-03-01T09:02:00")
    assert viewer.get(url, kind="bounce").status_code == 422


@pytest.fixture
def minji():
    """A profile sent three deliveries: one went out, one bounced, one went out later."""
    profile = Profile.objects.create(email="minji@example.com", first_name="민지")
    messages = {}
    for label, status, minutes in [("Spring", "sent", 0), ("Summer", "failed", 60),
                                   ("Autumn", "delivered", 120)]:
        delivery, _ = delivery_with_rows([], label=label)
        failure = ("hard", "user_unknown") if status == "failed" else ("", "")
        messages[label] = SendingLog.objects.create(
            delivery=delivery, profile_id=profile.pk, address=profile.email, status=status,
            failure_type=failure[0], failure_reason=failure[1], updated_at=at(minutes),
            sent_at=None if status == "failed" else at(minutes))
    record_events([event(messages["Spring"], "open", 5, machine=True),
                   event(messages["Spring"], "click", 10, link_index=0),
                   event(messages["Autumn"], "mirror", 130)])
    _, others = delivery_with_rows(["sent"], label="Someone else")
    record_events([event(others[0], "open", 200)])
    return profile, messages


def test_profile_history_newest_first_with_first_contact_and_touchpoints(viewer, minji):
    profile, messages = minji
    history = viewer.ok(viewer.get(f"/profiles/{profile.pk}/history"))
    assert (history["message_count"], history["touchpoints"], history["event_count"]) == (
        3, 2, 3)
    assert history["first_contact_at"].startswith("2026-03-01T09:00:00")
    assert [(m["label"], m["status"], m["failure_reason"]) for m in history["messages"]] == [
        ("Autumn", "delivered", ""), ("Summer", "failed", "user_unknown"),
        ("Spring", "sent", "")]
    assert [m["date"][11:16] for m in history["messages"]] == ["11:00", "10:00", "09:00"]
    assert {m["channel"] for m in history["messages"]} == {"email"}
    autumn, summer, spring = history["messages"]
    assert autumn["mirror_url"].startswith(settings.ENVOI_BASE_URL + "/m/")
    assert spring["mirror_url"].startswith(settings.ENVOI_BASE_URL + "/m/")
    assert summer["mirror_url"] is None  # it never went out: there is nothing to mirror
    assert [(e["kind"], e["delivery_id"], e["machine"]) for e in history["events"]] == [
        ("mirror", autumn["delivery_id"], False), ("click", spring["delivery_id"], False),
        ("open", spring["delivery_id"], True)]


def test_profile_history_of_a_profile_never_sent_anything(viewer, importer):
    profile = Profile.objects.create(email="new@example.com")
    history = viewer.ok(viewer.get(f"/profiles/{profile.pk}/history"))
    assert history["first_contact_at"] is None and history["touchpoints"] == 0
    assert history["messages"] == [] and history["events"] == []
    assert viewer.get("/profiles/99999/history").status_code == 404
    assert importer.get(f"/profiles/{profile.pk}/history").status_code == 403


def test_cli_compute_stats_prints_the_kpis_as_json(sent, capsys):
    delivery, _ = sent
    boss()
    assert main(["delivery", "compute-stats", str(delivery.pk), "--as", "boss"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kpis"]["sent"] == 4 and printed["kpis"]["clicks"] == 1
    assert printed["delivery_id"] == delivery.pk and printed["computed_at"]
    main(["user", "create", "ivan", "--role", "import"])
    capsys.readouterr()
    assert main(["delivery", "compute-stats", str(delivery.pk), "--as", "ivan"]) == 1
    assert "Your permissions do not allow you to view" in capsys.readouterr().err
