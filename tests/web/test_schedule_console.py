"""Schedules in the console (SPEC §4): the form's schedule fields map onto the API's
``recurrence``, bad schedules come back on the form, the Schedule block, executions, and
the action bar of a recurring delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envoi.accounts.models import AuditEntry
from envoi.api.schemas import RecurrenceIn
from envoi.deliveries import recurring
from envoi.deliveries.models import Delivery, Recurrence
from tests.support.api import Api
from tests.support.deliveries import delivery_in, seeded_audience
from tests.web.conftest import signed_in
from tests.web.schedules import recurring_in
from tests.web.test_console import delivery_form

pytestmark = pytest.mark.django_db


def recurring_form(**changes) -> dict:
    return delivery_form(**{"recurring": "on", "every": "day", "at": "09:00",
                            "time_zone": "Asia/Seoul", "aggregation": "none",
                            "request_confirmation": "on", **changes})


@pytest.mark.parametrize("changes, expected", [
    ({}, {"every": "day", "at": "09:00", "aggregation": "none",
          "request_confirmation": True}),
    ({"request_confirmation": ""}, {"every": "day", "at": "09:00", "aggregation": "none",
                                    "request_confirmation": False}),
    ({"every": "week", "weekdays": ["mon", "thu"], "at": "18:30"},
     {"every": "week", "at": "18:30", "weekdays": ["mon", "thu"], "aggregation": "none",
      "request_confirmation": True}),
    ({"every": "month", "day_of_month": "15", "aggregation": "month"},
     {"every": "month", "at": "09:00", "day_of_month": 15, "aggregation": "month"}),
    ({"every": "cron", "cron": "0 9 * * 1-5", "aggregation": "week",
      "ends_at": "2026-06-30T23:00"},
     {"cron": "0 9 * * 1-5", "aggregation": "week", "ends_at": datetime(2026, 6, 30, 23, 0)}),
])
def test_the_form_gives_the_core_the_recurrence_the_api_takes(changes, expected):
    """The same dict, field for field; and a delivery created from it through the form
    and one created through the API with it have the same schedule."""
    from envoi.web.forms import DeliveryForm

    form = DeliveryForm(recurring_form(**changes))
    assert form.is_valid(), form.errors
    assert form.recurrence() == expected
    assert form.schedule()["time_zone"] == "Asia/Seoul"
    RecurrenceIn(**form.recurrence())  # the API's schema accepts it as it is

    client = signed_in("maker", "prepare_deliveries")
    assert client.post("/deliveries/new/", recurring_form(**changes)).status_code == 302
    through_form = Delivery.objects.get(label="Form")
    api = Api("robot", "prepare_deliveries")
    body = {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in form.recurrence().items()}
    made = api.ok(api.post("/deliveries", {
        "label": "API", "sender": "news@shop.example.com", "subject": "Hi",
        "time_zone": "Asia/Seoul", "recurrence": body}), 201)
    through_api = Delivery.objects.get(pk=made["id"])
    assert recurring.spec_of(through_form) == recurring.spec_of(through_api)
    assert through_form.time_zone == through_api.time_zone == "Asia/Seoul"


def test_a_contact_date_is_wall_clock_time_in_its_time_zone():
    client = signed_in("planner", "prepare_deliveries")
    form = delivery_form(contact_date="2026-03-08T09:00", time_zone="Asia/Seoul",
                         recipient_time_zone="on")
    assert client.post("/deliveries/new/", form).status_code == 302
    delivery = Delivery.objects.get(label="Form")
    assert delivery.contact_date == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)
    assert delivery.recipient_time_zone and not delivery.is_recurring

    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'value="2026-03-08T09:00"' in page and 'value="Asia/Seoul"' in page
    assert '<option value="Europe/Paris">' in page  # the time zones offered
    block = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert 'data-testid="contact-date"' in block
    assert '<time datetime="2026-03-08T09:00:00+09:00">' in block  # in its own zone
    assert '<abbr class="tz">KST</abbr>' in block


def test_editing_a_recurring_delivery_as_it_stands_changes_nothing():
    """The form shows the schedule as saved; saving it unchanged keeps the delivery
    prepared (a schedule change would send it back to editing)."""
    parent = recurring_in("pending_approval", every="week", weekdays=["mon", "fri"],
                          at="07:15", aggregation="none", request_confirmation=False)
    client = signed_in("editor", "prepare_deliveries")
    page = client.get(f"/deliveries/{parent.pk}/edit/")
    form = page.context["form"]
    assert form.initial["every"] == "week" and form.initial["at"] == "07:15"
    assert form.initial["weekdays"] == ["mon", "fri"]
    assert form.initial["request_confirmation"] is False
    posted = {name: value for name, value in form.initial.items() if value not in (None, False)}
    posted.update(recurring="on", audience=parent.audience_id, is_marketing="on",
                  approval_required="on")
    assert client.post(f"/deliveries/{parent.pk}/edit/", posted).status_code == 302
    assert Delivery.objects.get(pk=parent.pk).status == "pending_approval"


@pytest.mark.parametrize("changes, field, shown", [
    ({"contact_date": "2026-03-08T09:00"}, "contact_date",
     "A recurring delivery runs on its schedule"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Unknown time zone"),
    ({"every": "cron", "cron": "61 9 * * *"}, "cron", "minute field: 61 is outside 0-59"),
    ({"every": "cron", "cron": "0 0 31 2 *"}, "cron", "This schedule never occurs."),
    ({"every": "cron", "cron": ""}, "every", "Give a cron expression"),
    ({"at": ""}, "at", "Give a time of day"),
    ({"at": "25:00"}, "at", "Give a time of day"),
    ({"ends_at": "9999-12-31T23:59"}, "ends_at", "too far in the past or in the future"),
    ({"day_of_month": "40", "every": "month"}, "day_of_month", "less than or equal to 31"),
    ({"ends_at": "tomorrow"}, "ends_at", "Enter a valid date/time."),
])
def test_a_bad_schedule_comes_back_on_the_form(changes, field, shown):
    client = signed_in("careless", "prepare_deliveries")
    response = client.post("/deliveries/new/", recurring_form(**changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and shown in str(errors[field]), errors
    assert not Delivery.objects.exists()


def test_a_schedule_refusal_is_said_in_the_readers_language():
    client = signed_in("careless-ko", "prepare_deliveries", language="ko")
    response = client.post("/deliveries/new/",
                           recurring_form(contact_date="2026-03-08T09:00"))
    assert response.status_code == 400
    assert "되풀이 발송은 예약에 따라 실행됩니다" in response.content.decode()
    cron = client.post("/deliveries/new/", recurring_form(every="cron", cron="0 9 * *"))
    assert '<span lang="en">expected 5 fields' in cron.content.decode()  # as the core said


def test_an_execution_cannot_be_given_a_schedule_of_its_own():
    from tests.web.schedules import fire_runs

    execution = fire_runs(recurring_in("in_progress"), 1)[0]
    client = signed_in("editor", "prepare_deliveries")
    response = client.post(f"/deliveries/{execution.pk}/edit/", recurring_form(
        label=execution.label, audience=execution.audience_id))
    assert response.status_code == 400
    assert "cannot have a schedule of its own" in str(response.context["form"].errors)


def test_the_schedule_block_of_a_recurring_delivery():
    from tests.web.schedules import fire_runs

    parent = recurring_in("in_progress")
    first, second = fire_runs(parent, 2)
    services_confirm(first)
    page = signed_in("watcher", "approve_deliveries", language="ja").get(
        f"/deliveries/{parent.pk}/").content.decode()
    assert "毎日 09:00" in page and "Asia/Seoul" in page
    assert 'data-testid="request-confirmation" data-state="on"' in page
    confirmation = block_text(page, "schedule-confirmation")
    assert "boss が確認" in confirmation  # the starter who confirmed the schedule
    assert "各回は引き続き個別の確認を待ちます。" in confirmation  # runs still ask
    assert f'href="/deliveries/{first.pk}/"' in page and f'href="/deliveries/{second.pk}/"' in page
    assert page.count("確認待ち") == 1  # the second run waits; the first was confirmed
    assert 'hx-trigger="every 1s"' not in page  # a running schedule is not polled

    execution = signed_in("reader", "prepare_deliveries").get(
        f"/deliveries/{second.pk}/").content.decode()
    assert f'data-testid="parent-link">{parent.label}</a>' in execution
    assert "/do/confirm/" not in execution  # a preparer is told why not
    assert 'data-testid="permission-banner"' in execution
    starter = signed_in("stella", "start_deliveries").get(
        f"/deliveries/{second.pk}/").content.decode()
    assert 'data-dialog="confirm-send"' in starter and "/do/confirm/" in starter
    assert "Messages are ready to be sent" in starter  # the dialog of any delivery


def block_text(page: str, testid: str) -> str:
    import re

    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</dd>', page, re.DOTALL)
    assert found is not None, testid
    return found.group(1)


def services_confirm(delivery: Delivery) -> None:
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    services.confirm(boss(), delivery)


def test_the_executions_page_lists_every_run():
    from tests.web.schedules import fire_runs

    parent = recurring_in("in_progress")
    fire_runs(parent, 12)
    client = signed_in("watcher", "approve_deliveries")
    dashboard = client.get(f"/deliveries/{parent.pk}/").content.decode()
    assert dashboard.count("data-execution=") == 10
    assert f"/deliveries/{parent.pk}/executions/" in dashboard
    listing = client.get(f"/deliveries/{parent.pk}/executions/").content.decode()
    assert listing.count("data-execution=") == 12


def actions_of(client, delivery: Delivery) -> set[str]:
    import re

    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    found = set(re.findall(r"/do/([a-z_]+)/", page))
    return found | ({"confirm"} if 'data-dialog="confirm-send"' in page else set())


def test_the_action_bar_of_a_recurring_delivery_follows_its_confirmation():
    parent = recurring_in("approved", request_confirmation=False)
    starter = signed_in("stella", "start_deliveries")
    workflow = signed_in("wendy", "workflow")
    assert {"confirm", "activate"} <= actions_of(starter, parent)
    assert actions_of(workflow, parent) == {"activate"}
    assert "Your permissions do not allow you to confirm a delivery." in workflow.get(
        f"/deliveries/{parent.pk}/").content.decode()

    workflow.post(f"/deliveries/{parent.pk}/do/activate/")
    parent.refresh_from_db()
    assert parent.status == "in_progress"
    assert "withdraw_confirmation" not in actions_of(starter, parent)
    assert "confirm" in actions_of(starter, parent)  # runs would then send by themselves

    page = starter.post(f"/deliveries/{parent.pk}/do/confirm/", follow=True).content.decode()
    assert "the recurring delivery runs on its schedule" in page
    assert Recurrence.objects.get(delivery=parent).sends_by_itself
    assert actions_of(starter, parent) >= {"withdraw_confirmation", "pause", "stop"}
    assert "confirm" not in actions_of(starter, parent)

    starter.post(f"/deliveries/{parent.pk}/do/withdraw_confirmation/")
    assert not Recurrence.objects.get(delivery=parent).sends_by_itself
    assert AuditEntry.objects.filter(action="delivery.withdraw_confirmation",
                                     actor_name="stella").exists()
    refused = workflow.post(f"/deliveries/{parent.pk}/do/withdraw_confirmation/",
                            follow=True).content.decode()
    assert "Your permissions do not allow you to confirm a delivery." in refused


def test_a_recurring_delivery_asking_for_each_run_is_confirmed_once_to_start():
    parent = recurring_in("approved")  # Request confirmation before sending: on
    starter = signed_in("stella", "start_deliveries")
    page = starter.get(f"/deliveries/{parent.pk}/").content.decode()
    assert "each run will be prepared, then wait for a confirmation" in page  # the dialog
    starter.post(f"/deliveries/{parent.pk}/do/confirm/")
    assert Delivery.objects.get(pk=parent.pk).status == "in_progress"
    assert actions_of(starter, parent) == {"withdraw_confirmation", "pause", "stop"}


def test_the_switch_saves_request_confirmation_through_the_core():
    parent = recurring_in("pending_approval")
    client = signed_in("editor", "prepare_deliveries")
    page = client.get(f"/deliveries/{parent.pk}/").content.decode()
    assert 'name="request_confirmation" data-autosubmit checked' in page
    client.post(f"/deliveries/{parent.pk}/schedule/request-confirmation/", {})
    recurrence = Recurrence.objects.get(delivery=parent)
    assert recurrence.request_confirmation is False and recurrence.cron == "0 9 * * *"
    assert Delivery.objects.get(pk=parent.pk).status == "editing"  # a schedule change
    assert AuditEntry.objects.filter(action="delivery.edit", delivery_id=parent.pk).exists()

    running = recurring_in("in_progress", label="Running")
    refused = signed_in("stella", "start_deliveries").post(
        f"/deliveries/{running.pk}/schedule/request-confirmation/", {}, follow=True)
    assert "“In progress”" in refused.content.decode()
    assert Recurrence.objects.get(delivery=running).request_confirmation is True
    one_shot = delivery_in("editing", label="One shot")
    assert client.post(f"/deliveries/{one_shot.pk}/schedule/request-confirmation/",
                       {}).status_code == 404


def test_a_scheduled_delivery_confirmed_waits_for_its_date():
    seeded_audience()
    delivery = delivery_in("approved", contact_date=datetime(2030, 5, 1, 9, 0),
                           time_zone="Asia/Tokyo")
    starter = signed_in("stella", "start_deliveries", language="ko")
    page = starter.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert "발송 예정일에 발송: <time" in page  # the dialog says when
    page = starter.post(f"/deliveries/{delivery.pk}/do/confirm/", follow=True).content.decode()
    assert Delivery.objects.get(pk=delivery.pk).status == "start_pending"
    assert "발송 예정일에 메시지를 보냅니다" in page
