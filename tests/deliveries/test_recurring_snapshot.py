"""Recurring runs send only what was approved: an audience edited while the schedule
runs holds the next run, and the recurring delivery goes back for approval — audited,
and shown on its dashboard. Under a controlled clock, into a real SMTP server; on
SQLite and on PostgreSQL (the suite's two passes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import create_user
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.audiences.services import add_profiles, update_audience
from envoi.deliveries import services
from envoi.deliveries.models import Delivery, Recurrence
from tests.support.api import Api
from tests.support.deliveries import boss
from tests.support.scenario import HTML, TEXT
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

FIRST_RUN = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)  # 09:00 in Seoul
ONE_VIP = 'attributes.tier = "vip"'
FOUR = 'attributes.tier = "vip" or attributes.tier = "gold"'


@pytest.fixture
def starter():
    return create_user("stella", ["start_deliveries"])


@pytest.fixture
def approver():
    return create_user("april", ["approve_deliveries"])


def seed_profiles() -> None:
    create_profiles([{"email": "vip@x.test", "attributes": {"tier": "vip"}}]
                    + [{"email": f"gold{n}@x.test", "attributes": {"tier": "gold"}}
                       for n in range(3)])


def running(audience: Audience, starter, approver, *, approval_required: bool = True,
            **recurrence) -> Delivery:
    """A daily 09:00 (Seoul) recurring delivery, approved and confirmed: its runs send
    by themselves (unless they request confirmation)."""
    parent = services.create(boss(), label="Daily", sender="news@example.com",
                             subject="News", html_body=HTML, text_body=TEXT,
                             audience=audience, time_zone="Asia/Seoul",
                             approval_required=approval_required,
                             recurrence={"every": "day", "at": "09:00",
                                         "request_confirmation": False, **recurrence})
    parent = services.prepare(boss(), parent)
    if approval_required:
        parent = services.approve(approver, parent)
    parent = services.confirm(starter, parent)
    assert parent.status == "in_progress"
    recurrence = Recurrence.objects.get(delivery=parent)
    assert recurrence.sends_by_itself != recurrence.request_confirmation
    return parent


def run_day(clock, send_all, day: int) -> None:
    clock.set(FIRST_RUN + timedelta(days=day - 1))
    send_all()


def recipients(relay) -> list[str]:
    return sorted(rcpt for message in relay.messages for rcpt in message.rcpt_to)


def test_an_audience_edited_after_approval_holds_the_run_until_approved_again(
        clock, relay, send_all, starter, approver):
    """Approved for the one VIP; the filter is then edited to match four. The next run
    sends nothing: the delivery is prepared again (four to deliver) and waits for a new
    approval, its confirmation withdrawn. Approved and confirmed again, it sends to four."""
    seed_profiles()
    audience = Audience.objects.create(name="VIPs", filter=ONE_VIP)
    parent = running(audience, starter, approver)
    assert parent.to_deliver == 1
    run_day(clock, send_all, 1)
    assert recipients(relay) == ["vip@x.test"]

    update_audience(boss(), audience, "VIPs", FOUR)
    run_day(clock, send_all, 2)
    assert recipients(relay) == ["vip@x.test"]  # nothing more left
    assert Delivery.objects.filter(parent=parent).count() == 1  # no execution for day 2
    parent.refresh_from_db()
    assert (parent.status, parent.to_deliver) == ("pending_approval", 4)
    recurrence = Recurrence.objects.get(delivery=parent)
    assert recurrence.confirmed_at is None and recurrence.next_run_at is None
    held = parent.approval["returned_for_approval"]
    assert held["audience_changed"] and held["approved_by"] == "april"
    assert (held["approved_audience"]["filter"], held["audience"]["filter"]) == (ONE_VIP, FOUR)
    entry = AuditEntry.objects.get(action="delivery.return_for_approval")
    assert (entry.delivery_id, entry.detail["by"], entry.detail["status"]) == (
        parent.pk, "scheduler", "pending_approval")
    assert entry.detail["audience"]["filter"] == FOUR
    run_day(clock, send_all, 3)  # still waiting: no run fires
    assert len(relay.messages) == 1

    api = Api("sam", "start_deliveries")  # confirming the old approval is refused
    assert api.post(f"/deliveries/{parent.pk}/confirm").status_code == 409
    parent = services.approve(approver, parent)
    assert parent.approval["audience"]["filter"] == FOUR
    api.ok(api.post(f"/deliveries/{parent.pk}/confirm"))
    run_day(clock, send_all, 4)
    assert recipients(relay) == sorted(["vip@x.test", "vip@x.test", "gold0@x.test",
                                        "gold1@x.test", "gold2@x.test"])


def test_a_later_run_of_an_aggregation_period_adds_nobody_after_the_audience_changed(
        clock, relay, send_all, starter, approver):
    """Aggregated by month: a later run of the period would top up its execution with
    the newly qualifying profiles — the three the edited filter lets in. It does not."""
    seed_profiles()
    audience = Audience.objects.create(name="VIPs", filter=ONE_VIP)
    parent = running(audience, starter, approver, aggregation="month")
    run_day(clock, send_all, 1)
    update_audience(boss(), audience, "VIPs", FOUR)
    run_day(clock, send_all, 2)
    assert recipients(relay) == ["vip@x.test"]
    (execution,) = Delivery.objects.filter(parent=parent)
    assert execution.to_deliver == 1
    assert Delivery.objects.get(pk=parent.pk).status == "pending_approval"


def test_a_waiting_execution_prepared_again_by_hand_cannot_send_to_the_new_audience(
        clock, relay, send_all, starter, approver):
    """Each run waits for its confirmation. The audience is edited while one waits: the
    execution cannot be confirmed, and preparing it again (to four, unapproved) does not
    make it confirmable — not until the recurring delivery is approved again."""
    seed_profiles()
    audience = Audience.objects.create(name="VIPs", filter=ONE_VIP)
    parent = running(audience, starter, approver, request_confirmation=True)
    run_day(clock, send_all, 1)
    (execution,) = Delivery.objects.filter(parent=parent)
    assert (execution.status, execution.to_deliver) == ("ready", 1)

    update_audience(boss(), audience, "VIPs", FOUR)
    api = Api("sam", "start_deliveries")
    refused = api.post(f"/deliveries/{execution.pk}/confirm")
    assert refused.status_code == 400 and "prepare it again" in refused.json()["detail"]
    execution = services.prepare(starter, execution)
    assert (execution.status, execution.to_deliver) == ("ready", 4)
    refused = api.post(f"/deliveries/{execution.pk}/confirm")
    assert refused.status_code == 400
    assert refused.json()["detail"] == services.RECURRING_CHANGED
    client = signed_in("stan", "start_deliveries", language="ko")
    page = client.post(f"/deliveries/{execution.pk}/do/confirm/", follow=True)
    assert "각 회차는 새 승인을 기다립니다" in page.content.decode()

    run_day(clock, send_all, 2)  # the next run sends the delivery back for approval
    parent.refresh_from_db()
    assert parent.status == "pending_approval"
    page = client.get(f"/deliveries/{execution.pk}/").content.decode()
    assert 'data-testid="parent-returned-for-approval"' in page
    assert "그때까지 이 회차는 발송할 수 없습니다" in page
    assert api.post(f"/deliveries/{execution.pk}/confirm").status_code == 400
    assert relay.messages == []

    services.approve(approver, parent)
    services.confirm(starter, Delivery.objects.get(pk=parent.pk))
    api.ok(api.post(f"/deliveries/{execution.pk}/confirm"))
    send_all()
    assert len(recipients(relay)) == 4


def test_without_approval_the_delivery_goes_back_to_ready_for_a_new_confirmation(
        clock, relay, send_all, starter, approver):
    seed_profiles()
    audience = Audience.objects.create(name="VIPs", filter=ONE_VIP)
    parent = running(audience, starter, approver, approval_required=False)
    update_audience(boss(), audience, "VIPs", FOUR)
    run_day(clock, send_all, 1)
    assert relay.messages == []
    parent.refresh_from_db()
    assert (parent.status, parent.to_deliver) == ("ready", 4)
    held = parent.approval["returned_for_approval"]
    assert not held["audience_changed"]  # nothing approved to compare it with
    parent = services.confirm(starter, parent)
    assert "returned_for_approval" not in parent.approval
    run_day(clock, send_all, 2)
    assert len(recipients(relay)) == 4


def test_new_members_of_a_static_list_are_no_change_to_approve(clock, relay, send_all,
                                                              starter, approver):
    """A static list is approved by its identity: profiles imported into it later are
    sent to, as profiles that newly match a filter are."""
    add_profiles(boss(), [{"email": "a@x.test"}], list_name="Customers")
    parent = running(Audience.objects.get(name="Customers"), starter, approver)
    run_day(clock, send_all, 1)
    add_profiles(boss(), [{"email": "b@x.test"}], list_name="Customers")
    run_day(clock, send_all, 2)
    assert recipients(relay) == ["a@x.test", "a@x.test", "b@x.test"]
    assert Delivery.objects.get(pk=parent.pk).status == "in_progress"


@pytest.mark.parametrize("language, words", [
    ("en", "changed after it was approved: the runs are held"),
    ("ko", "회차 발송을 보류합니다"), ("ja", "各回の配信を保留しています")])
def test_the_dashboard_says_why_the_runs_wait(clock, relay, send_all, starter, approver,
                                              language, words):
    seed_profiles()
    audience = Audience.objects.create(name="VIPs", filter=ONE_VIP)
    parent = running(audience, starter, approver)
    update_audience(boss(), audience, "VIPs", FOUR)
    run_day(clock, send_all, 1)
    client = signed_in("viv", "approve_deliveries", language=language)
    page = client.get(f"/deliveries/{parent.pk}/").content.decode()
    assert 'data-testid="returned-for-approval"' in page
    assert words in page
    assert "attributes.tier = &quot;vip&quot; or attributes.tier = &quot;gold&quot;" in page
    assert "attributes.tier = &quot;vip&quot;</code>" in page
