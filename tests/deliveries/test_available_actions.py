"""What a user may do now comes from one place, ``services.available_actions``, and the
lifecycle's edges that issue 21 and issue 16 (item 6) found: Stop reaching a recurring
delivery's executions, a scheduled send moved or cancelled, and a sent delivery that is
archived rather than deleted while its links keep working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client

from envoi.accounts.services import PermissionDenied, create_user
from envoi.audiences.models import Profile
from envoi.cli import main
from envoi.deliveries import lifecycle, services
from envoi.deliveries.content import snapshot_drift
from envoi.deliveries.models import Delivery, Recurrence
from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from tests.deliveries.test_recurring import add_profiles, recurring_delivery, run_day
from tests.support.api import Api
from tests.support.deliveries import boss, delivery_in, prepared_delivery

pytestmark = pytest.mark.django_db

# Moves the lifecycle makes by itself; no person ever takes them.
INTERNAL_MOVES = {"schedule", "start", "finish", "fail", "reopen", "prepared",
                  "await_approval", "preparation_failed", "return_for_approval",
                  "stop_with_parent", "unschedule", "unschedule_approved"}


def test_each_face_lists_only_what_its_caller_may_do_now(capsys):
    delivery = delivery_in("pending_approval")
    preparer = Api("paula", "prepare_deliveries")
    approver = Api("andre", "approve_deliveries")
    starter = Api("stella", "start_deliveries")

    assert services.available_actions(preparer.user, delivery) == [
        "edit", "prepare", "proof", "delete", "archive"]
    assert services.available_actions(approver.user, delivery) == ["approve", "reject"]
    assert services.available_actions(starter.user, delivery) == [
        "edit", "prepare", "proof", "delete", "archive"]  # nothing to confirm yet
    assert services.available_actions(create_user("ivy", ["import"]), delivery) == []

    # The API: the caller's actions, under the field name it always had.
    for api in (preparer, approver, starter):
        shown = api.ok(api.get(f"/deliveries/{delivery.pk}"))["actions"]
        assert shown == services.available_actions(api.user, delivery)
    approved = approver.ok(approver.post(f"/deliveries/{delivery.pk}/approve"))
    assert approved["actions"] == []  # nothing left for an approver to do
    assert starter.ok(starter.get(f"/deliveries/{delivery.pk}"))["actions"] == [
        "edit", "prepare", "proof", "confirm", "delete", "archive"]

    # The CLI prints the same list.
    assert main(["delivery", "actions", str(delivery.pk), "--as", "stella"]) == 0
    assert capsys.readouterr().out.strip() == (
        "available actions: edit, prepare, proof, confirm, delete, archive")
    assert main(["delivery", "confirm", str(delivery.pk), "--as", "stella"]) == 0
    out = capsys.readouterr().out
    assert f"delivery {delivery.pk}: in_progress" in out
    assert "available actions: pause, stop" in out


def test_no_face_offers_an_internal_move_in_any_state(clock, relay, send_all):
    """Walk a delivery through every state a person sees; the boss (every role) is
    never offered a move only the lifecycle makes."""
    seen = set()
    for state in ("editing", "pending_approval", "approved", "in_progress", "paused"):
        delivery = delivery_in(state, label=state)
        seen |= set(services.available_actions(boss(), delivery))
    stopped = services.stop(boss(), delivery)
    seen |= set(services.available_actions(boss(), stopped))
    assert seen and not seen & INTERNAL_MOVES
    assert seen <= set(services.ACTION_PERMISSIONS)


def test_stop_is_final_for_a_recurring_delivery_and_its_waiting_runs(clock, relay,
                                                                     send_all):
    add_profiles("a@x.test", "b@x.test")
    starter = create_user("stella", ["start_deliveries"])
    parent = services.confirm(starter, recurring_delivery())
    waiting = run_day(clock, send_all, 1)
    assert waiting is not None and waiting.status == "ready"
    assert "confirm" in services.available_actions(starter, waiting)

    services.stop(starter, parent)

    waiting.refresh_from_db()
    assert waiting.status == "stopped"
    assert "confirm" not in services.available_actions(starter, waiting)
    with pytest.raises(lifecycle.InvalidTransition):
        services.confirm(starter, waiting)
    api = Api("sam", "start_deliveries")
    refused = api.post(f"/deliveries/{waiting.pk}/confirm")
    assert refused.status_code == 409
    assert "confirm" not in api.ok(api.get(f"/deliveries/{waiting.pk}"))["actions"]
    send_all()
    assert relay.messages == []  # its rows were never sent
    assert set(SendingLog.objects.filter(delivery=waiting).values_list(
        "status", flat=True)) == {"ignored"}
    # The schedule runs no more.
    assert Recurrence.objects.get(delivery=parent).next_run_at is None
    assert run_day(clock, send_all, 2) == waiting  # no new execution


def test_stopping_a_recurring_delivery_stops_a_run_that_is_sending(clock, relay, send_all):
    add_profiles("a@x.test", "b@x.test")
    starter = create_user("stella", ["start_deliveries"])
    parent = services.confirm(starter, recurring_delivery())
    execution = run_day(clock, send_all, 1)
    assert execution is not None
    execution = services.confirm(starter, execution)
    assert execution.status == "in_progress"

    services.stop(starter, parent)  # before any worker picked it up

    execution.refresh_from_db()
    assert execution.status == "stopped"
    send_all()
    assert relay.messages == []


def test_a_scheduled_send_is_moved_later_without_preparing_again(clock):
    future = datetime(2026, 3, 1, 9, 0)  # wall-clock time in Tokyo
    delivery = delivery_in("approved", contact_date=future, time_zone="Asia/Tokyo")
    starter = create_user("stella", ["start_deliveries"])
    delivery = services.confirm(starter, delivery)
    assert delivery.status == "start_pending"
    prepared_at, rows = delivery.prepared_at, SendingLog.objects.filter(
        delivery=delivery).count()
    assert {"reschedule", "cancel_schedule", "stop"} <= set(
        services.available_actions(starter, delivery))
    preparer = create_user("paula", ["prepare_deliveries"])
    assert "reschedule" not in services.available_actions(preparer, delivery)
    with pytest.raises(PermissionDenied):
        services.reschedule(preparer, delivery, "2026-03-02T09:00")

    moved = services.reschedule(starter, delivery, "2026-03-02T10:30")
    assert moved.status == "start_pending" and moved.prepared_at == prepared_at
    assert moved.contact_date == moved.start_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert SendingLog.objects.filter(delivery=delivery).count() == rows
    assert snapshot_drift(moved) is None  # still what was prepared and approved
    assert moved.approval["rescheduled"]["by"] == "stella"
    with pytest.raises(services.DeliveryError, match="later date"):
        services.reschedule(starter, moved, "2026-03-01T09:00")
    with pytest.raises(services.DeliveryError, match="date and a time"):
        services.reschedule(starter, moved, "next tuesday")

    # Through the API, then cancelled: back to Approved, ready for Confirm send again.
    api = Api("sam", "start_deliveries")
    later = api.ok(api.post(f"/deliveries/{delivery.pk}/reschedule",
                            {"contact_date": "2026-03-03T09:00:00+09:00"}))
    assert later["start_at"].startswith("2026-03-03T00:00")
    cancelled = api.ok(api.post(f"/deliveries/{delivery.pk}/cancel-schedule"))
    assert cancelled["status"] == "approved" and "confirm" in cancelled["actions"]
    clock.advance(days=60)
    assert lifecycle.start_due(clock.now()) == []  # nothing starts by itself any more


def test_deleting_a_sent_delivery_is_refused_and_its_links_still_work(clock, relay, send_all,
                                                                      settings):
    settings.ENVOI_BASE_URL = "http://testserver"
    delivery = services.confirm(boss(), prepared_delivery("sent", 2))
    send_all()
    assert len(relay.messages) == 2
    row = SendingLog.objects.filter(delivery=delivery).order_by("id").first()
    assert row is not None
    api = Api("paula", "prepare_deliveries")
    assert "delete" not in api.ok(api.get(f"/deliveries/{delivery.pk}"))["actions"]

    refused = api.client.delete(f"/api/v1/deliveries/{delivery.pk}", headers=api._headers())
    assert refused.status_code == 409
    assert "has sent messages: it cannot be deleted" in refused.json()["detail"]
    assert "Archive it" in refused.json()["detail"]
    assert Delivery.objects.filter(pk=delivery.pk).exists()
    assert SendingLog.objects.filter(delivery=delivery).count() == 2

    archived = api.ok(api.post(f"/deliveries/{delivery.pk}/archive"))
    assert archived["actions"] == ["unarchive"]
    listed = [d["id"] for d in api.ok(api.get("/deliveries"))["results"]]
    assert delivery.pk not in listed
    assert [d["id"] for d in api.ok(api.get("/deliveries", archived=True))["results"]] == [
        delivery.pk]

    # The unsubscribe link in a message people hold still works: GET, then RFC 8058.
    path = urlsplit(tokens.unsubscribe_url(row.pk)).path
    assert Client().get(path).status_code == 200
    one_click = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert Profile.objects.get(pk=row.profile_id).email_opt_out is True


def test_only_an_unsent_delivery_is_deleted_and_only_by_who_may_edit_it():
    delivery = delivery_in("pending_approval")
    approver = Api("andre", "approve_deliveries")
    assert approver.client.delete(f"/api/v1/deliveries/{delivery.pk}",
                                  headers=approver._headers()).status_code == 403
    preparer = Api("paula", "prepare_deliveries")
    assert preparer.client.delete(f"/api/v1/deliveries/{delivery.pk}",
                                  headers=preparer._headers()).status_code == 204
    assert not Delivery.objects.filter(pk=delivery.pk).exists()


def test_rescheduling_moves_each_recipients_own_due_time(clock):
    """A confirmed send in the recipient's time zone mode: rescheduling moves each
    profile's own due time with it."""
    delivery = delivery_in("approved", contact_date=datetime(2026, 3, 1, 9, 0),
                           time_zone="Asia/Seoul", recipient_time_zone=True)
    delivery = services.confirm(boss(), delivery)
    assert delivery.status == "start_pending"
    before = dict(SendingLog.objects.filter(delivery=delivery).values_list(
        "id", "next_attempt_at"))
    moved = services.reschedule(boss(), delivery, "2026-03-02T09:00")
    after = dict(SendingLog.objects.filter(delivery=delivery).values_list(
        "id", "next_attempt_at"))
    assert after.keys() == before.keys()
    assert all(after[row] - before[row] == timedelta(days=1) for row in before)
    assert moved.start_at == min(after.values())


def test_the_cli_moves_a_scheduled_send_and_refuses_a_missing_date(clock, capsys):
    delivery = delivery_in("approved", contact_date=datetime(2026, 3, 1, 9, 0),
                           time_zone="Asia/Tokyo")
    services.confirm(boss(), delivery)
    assert main(["delivery", "reschedule", str(delivery.pk), "--as", "boss"]) == 1
    assert "--contact-date: give the new date" in capsys.readouterr().err
    assert main(["delivery", "reschedule", str(delivery.pk), "--contact-date",
                 "2026-03-04T09:00", "--as", "boss"]) == 0
    out = capsys.readouterr().out
    assert f"delivery {delivery.pk}: start_pending" in out
    assert "reschedule, cancel-schedule" in out
    assert Delivery.objects.get(pk=delivery.pk).contact_date == datetime(
        2026, 3, 4, 0, 0, tzinfo=UTC)
