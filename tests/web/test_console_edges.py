"""The console's lifecycle edges (issue 21) and its ledger rules (issue 16, items 6-7),
through Django's test client: the action bar from ``available_actions``, a flash that
says what happened, logs that refresh with the live block, the Confirm dialog's facts,
the list's columns and filters, a console look that records no tracking, and names in
their language's order."""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.audiences.names import display_name
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending.models import OutboxMessage, SendingLog
from envoi.tracking.models import TrackingEvent
from envoi.tracking.tokens import mirror_url
from tests.deliveries.test_recurring import add_profiles, recurring_delivery, run_day
from tests.support.deliveries import boss, delivery_in, prepared_delivery
from tests.web.browser import text as text_in
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def buttons(page: str) -> list[str]:
    """The action bar's buttons, in order: the actions posted, the pages opened (the
    proof form) and the dialogs opened."""
    bar = page.split('class="actionbar"', 1)[1].split("</div>", 1)[0]
    return [posted or page or dialog for posted, page, dialog in
            re.findall(r'/do/([a-z_]+)/"|/deliveries/\d+/(proof)/"|data-dialog="([a-z-]+)"',
                       bar)]


def test_the_action_bar_is_the_users_available_actions(clock, relay, send_all):
    add_profiles("a@x.test")
    starter = signed_in("stella", "start_deliveries")
    parent = services.confirm(boss(), recurring_delivery())
    execution = run_day(clock, send_all, 1)
    assert execution is not None
    page = starter.get(f"/deliveries/{parent.pk}/").content.decode()
    # Confirmed already, each run asks for its own: no second Confirm send on the parent.
    assert buttons(page) == ["withdraw_confirmation", "pause", "stop"]
    page = starter.get(f"/deliveries/{execution.pk}/").content.decode()
    assert buttons(page) == ["prepare", "proof", "confirm-send", "confirm-delete"]

    stopped = starter.post(f"/deliveries/{parent.pk}/do/stop/", follow=True).content.decode()
    assert "The recurring delivery was stopped: no run will be sent any more." in stopped
    page = starter.get(f"/deliveries/{execution.pk}/").content.decode()
    assert "confirm-send" not in buttons(page) and 'data-status="stopped"' in page
    refused = starter.post(f"/deliveries/{execution.pk}/do/confirm/", follow=True)
    assert "This action is not possible while the delivery is “Stopped”." in (
        refused.content.decode())


def test_a_failed_preparation_is_not_reported_as_prepared():
    delivery = services.create(boss(), label="No audience", sender="a@example.com",
                               subject="s", text_body="Hello {{ unsubscribe_url }}")
    client = signed_in("paula", "prepare_deliveries", language="ko")
    page = client.post(f"/deliveries/{delivery.pk}/do/prepare/", follow=True)
    text = page.content.decode()
    assert Delivery.objects.get(pk=delivery.pk).status == "preparation_failed"
    assert "준비에 실패했습니다" in text
    assert text_in("ko", "The delivery was prepared.") not in text
    ready = delivery_in("editing", label="Good")
    text = client.post(f"/deliveries/{ready.pk}/do/prepare/", follow=True).content.decode()
    assert "승인을 기다립니다" in text  # prepared, and waiting for approval


def test_the_sending_log_refreshes_with_the_live_block(relay, send_all):
    delivery = services.confirm(boss(), prepared_delivery("live", 3))
    client = signed_in("stella", "start_deliveries")
    page = client.get(f"/deliveries/{delivery.pk}/?tab=sending").content.decode()
    refresh = re.search(r'class="log-refresh" hx-get="([^"]+)" hx-trigger="envoi-live '
                        r'from:body" hx-target="#logs"', page)
    assert refresh is not None
    assert page.count('class="send pending"') == 3
    # The preparation figures stay on the Deployment block while sending.
    assert 'data-phase="sending"' in page and 'data-kpi="targeted">3<' in page

    live = client.get(f"/deliveries/{delivery.pk}/live/", HTTP_HX_REQUEST="true")
    assert live["HX-Trigger"] == "envoi-live"  # the log tab fetches itself again
    send_all()
    log = client.get(refresh.group(1).replace("&amp;", "&")).content.decode()
    assert log.count('class="send sent"') == 3 and "send pending" not in log
    live = client.get(f"/deliveries/{delivery.pk}/live/").content.decode()
    assert 'data-phase="after"' in live and 'data-kpi="targeted">3<' in live


def test_the_confirm_dialog_states_what_will_happen():
    delivery = delivery_in("approved", label="Spring sale")
    client = signed_in("stella", "start_deliveries", language="ja")
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    dialog = page.split('<dialog id="confirm-send"', 1)[1].split("</dialog>", 1)[0]
    assert 'data-confirm="label">Spring sale<' in dialog
    assert f'data-confirm="audience">{delivery.audience.name}<' in dialog
    assert f'data-confirm="count">{delivery.to_deliver}<' in dialog
    assert 'data-confirm="when">今すぐ<' in dialog
    assert ">キャンセル<" in dialog and ">OK<" in dialog


def test_a_scheduled_send_is_rescheduled_and_listed_with_its_date(clock):
    delivery = delivery_in("approved", contact_date=datetime(2026, 3, 1, 9, 0),
                           time_zone="Asia/Tokyo")
    client = signed_in("stella", "start_deliveries", language="ko")
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert 'data-confirm="when">발송 예정일에 발송' in page
    client.post(f"/deliveries/{delivery.pk}/do/confirm/")
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert buttons(page)[:3] == ["stop", "reschedule", "cancel_schedule"]
    assert 'value="2026-03-01T09:00"' in page  # the dialog starts from the current date
    moved = client.post(f"/deliveries/{delivery.pk}/do/reschedule/",
                        {"contact_date": "2026-03-05T08:00"}, follow=True).content.decode()
    assert "발송 일시를" in moved
    delivery.refresh_from_db()
    assert delivery.status == "start_pending"
    earlier = client.post(f"/deliveries/{delivery.pk}/do/reschedule/",
                          {"contact_date": "2026-03-02T08:00"}, follow=True).content.decode()
    assert "예약된 발송은 더 늦은 날짜로만" in earlier
    listed = client.get("/deliveries/").content.decode()
    row = listed.split(f'data-delivery="{delivery.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "예약 일시" in listed and 'datetime="2026-03-05T08:00:00+09:00"' in row
    client.post(f"/deliveries/{delivery.pk}/do/cancel_schedule/")
    assert Delivery.objects.get(pk=delivery.pk).status == "approved"


def test_executions_and_archived_deliveries_stay_out_of_the_main_list(clock, relay,
                                                                       send_all):
    add_profiles("a@x.test")
    parent = services.confirm(boss(), recurring_delivery())
    execution = run_day(clock, send_all, 1)
    assert execution is not None
    old = delivery_in("editing", label="Old news")
    services.archive(boss(), old)
    client = signed_in("paula", "prepare_deliveries")
    listed = client.get("/deliveries/").content.decode()
    assert f'data-delivery="{parent.pk}"' in listed
    assert f'data-delivery="{execution.pk}"' not in listed
    assert f'data-delivery="{old.pk}"' not in listed
    assert 'data-testid="execution-count">1 execution<' in listed
    with_runs = client.get("/deliveries/?show=executions").content.decode()
    assert f'data-delivery="{execution.pk}"' in with_runs
    archived = client.get("/deliveries/?show=archived").content.decode()
    assert f'data-delivery="{old.pk}"' in archived and f'data-delivery="{parent.pk}"' not in (
        archived)


def test_the_console_refuses_to_delete_a_sent_delivery_and_offers_archive(relay, send_all):
    delivery = services.confirm(boss(), prepared_delivery("sent", 1))
    send_all()
    client = signed_in("paula", "prepare_deliveries")
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert "confirm-delete" not in page and "archive" in buttons(page)
    assert 'data-testid="kept-ledger"' in page  # the console says why there is no Delete
    refused = client.post(f"/deliveries/{delivery.pk}/delete/", follow=True).content.decode()
    assert "This delivery has sent messages: it cannot be deleted" in refused
    archived = client.post(f"/deliveries/{delivery.pk}/do/archive/", follow=True)
    assert "The delivery was archived" in archived.content.decode()
    assert Delivery.objects.get(pk=delivery.pk).archived_at is not None


def test_viewing_a_message_in_the_console_records_no_tracking(relay, send_all, settings):
    settings.ENVOI_BASE_URL = "http://testserver"
    delivery = services.confirm(boss(), delivery_in("approved"))
    send_all()
    sent = relay.messages[0]  # as the embedded shape's capture server keeps it
    message = OutboxMessage.objects.create(mail_from=sent.mail_from, rcpt_to=list(sent.rcpt_to),
                                           subject="", data=sent.data)
    client = signed_in("admin", "administration")
    raw = message_from_bytes(bytes(message.data), policy=policy.default)
    sent_html = raw.get_body(("html",)).get_content()
    assert "http://testserver/o/" in sent_html and "http://testserver/c/" in sent_html
    body = client.get(f"/outbox/{message.pk}/body/").content.decode()
    assert "/o/" not in body and "/c/" not in body  # no pixel, no counted link
    assert "https://shop.example.com/spring?utm=mail" in body  # links go straight there
    # Following every URL the frame shows, as the browser would, records nothing.
    for url in re.findall(r'(?:src|href)="(http://testserver/[^"]+)"', body):
        client.get(urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(
            url).query else ""))
    row = SendingLog.objects.filter(delivery=delivery).order_by("id").first()
    assert row is not None
    mirror = urlsplit(mirror_url(delivery.pk, row.pk, row.sent_at)).path
    page = client.get(f"{mirror}?from=console").content.decode()
    assert "/o/" not in page and "/c/" not in page
    assert TrackingEvent.objects.count() == 0
    client.get(mirror)  # the recipient's own look is a mirror view
    assert TrackingEvent.objects.filter(kind="mirror").count() == 1


@pytest.mark.parametrize("first, last, language, shown", [
    ("유나", "박", "ko", "박 유나"), ("さくら", "田中", "ja", "田中 さくら"),
    ("Ada", "Lovelace", "en", "Ada Lovelace"), ("Ada", "", "en", "Ada"),
    ("유나", "박", "ko-KR", "박 유나"), ("", "", "ja", ""),
])
def test_names_follow_their_languages_order(first, last, language, shown):
    assert display_name(first, last, language) == shown


def test_names_in_the_console_in_search_and_in_the_to_header(relay, send_all):
    create_profiles([
        {"email": "yuna@example.kr", "first_name": "유나", "last_name": "박", "language": "ko"},
        {"email": "sakura@example.jp", "first_name": "さくら", "last_name": "田中",
         "language": "ja"},
        {"email": "ada@example.org", "first_name": "Ada", "last_name": "Lovelace",
         "language": "en"}])
    client = signed_in("paula", "prepare_deliveries")
    listed = client.get("/profiles/").content.decode()
    assert "박 유나" in listed and "田中 さくら" in listed and "Ada Lovelace" in listed
    for typed in ("박 유나", "田中 さくら", "Ada Lovelace"):
        found = client.get("/profiles/", {"q": typed}).content.decode()
        assert typed in found, typed
    audience = Audience.objects.create(name="Names", filter="")
    delivery = services.create(boss(), label="Names", sender="a@example.com", subject="s",
                               text_body="Hi {{ unsubscribe_url }}", audience=audience,
                               approval_required=False)
    services.confirm(boss(), services.prepare(boss(), delivery))
    send_all()
    to = {message_from_bytes(m.data, policy=policy.default)["To"] for m in relay.messages}
    assert to >= {"박 유나 <yuna@example.kr>", "田中 さくら <sakura@example.jp>",
                  "Ada Lovelace <ada@example.org>"}


@pytest.mark.parametrize("language, words", [
    ("en", "Every weekday at 09:00"), ("ko", "평일 매일 09:00"), ("ja", "平日毎日 09:00")])
def test_a_schedule_is_said_in_words(language, words):
    from django.utils import translation

    from envoi.web.schedule import readable

    with translation.override(language):
        assert readable("0 9 * * mon,tue,wed,thu,fri") == words
        assert readable("0 9 * * 1-5") is None  # a range: shown as its cron text


@pytest.mark.parametrize("language, period, shown", [
    ("en", "2026-W49", "Week 49, 2026"), ("ko", "2026-W49", "2026년 49주차"),
    ("ja", "2026-W49", "2026年 第49週"), ("en", "2026-12", "December 2026"),
])
def test_an_executions_period_is_said_as_people_write_it(language, period, shown):
    from django.utils import translation

    from envoi.web.schedule import execution_label, period_label

    with translation.override(language):
        assert period_label(period, None) == shown
        assert execution_label(f"News · {period}", period, None) == f"News · {shown}"
