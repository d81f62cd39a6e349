"""Console behaviour through Django's test client: sign-in, CSRF, languages, forms that
answer bad input on the form, refusals in the user's language, audiences, users, outbox.
"""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import roles_of
from envoi.audiences.models import Audience
from envoi.deliveries.models import Delivery
from tests.support.deliveries import delivery_in, seeded_audience
from tests.support.scenario import HTML, TEXT
from tests.web.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


def test_signed_out_visitors_are_sent_to_sign_in():
    response = Client().get("/deliveries/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_sign_in_needs_the_csrf_token():
    from envoi.accounts.services import create_user

    create_user("csrf", ["prepare_deliveries"], PASSWORD)
    client = Client(enforce_csrf_checks=True)
    refused = client.post("/login/", {"username": "csrf", "password": PASSWORD})
    assert refused.status_code == 403
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    signed = client.post("/login/", {"username": "csrf", "password": PASSWORD,
                                     "csrfmiddlewaretoken": token})
    assert signed.status_code == 302 and signed["Location"] == "/deliveries/"


def test_wrong_password_is_said_on_the_form():
    response = Client(HTTP_ACCEPT_LANGUAGE="ja").post("/login/", {"username": "x",
                                                                  "password": "y"})
    assert response.status_code == 200
    assert "ユーザー名またはパスワードが正しくありません。" in response.content.decode()


def test_language_follows_the_browser_and_can_be_switched():
    client = signed_in("polyglot", "prepare_deliveries", language="ko")
    assert "<html lang=\"ko\">" in client.get("/deliveries/").content.decode()
    client.post("/i18n/setlang/", {"language": "ja", "next": "/deliveries/"})
    page = client.get("/deliveries/").content.decode()
    assert "<html lang=\"ja\">" in page and "配信を作成" in page


def test_times_are_shown_in_the_browsers_zone_and_say_which():
    delivery = delivery_in("editing")
    client = signed_in("tz", "prepare_deliveries")
    client.cookies["envoi_tz"] = "Asia/Tokyo"
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert '<abbr class="tz">JST</abbr>' in page
    client.cookies["envoi_tz"] = "Not/AZone"
    page = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert '<abbr class="tz">UTC</abbr>' in page


def test_list_filters_by_status_and_searches_labels():
    delivery_in("editing", label="Winter sale")
    delivery_in("pending_approval", label="Summer sale")
    client = signed_in("lister", "prepare_deliveries")
    page = client.get("/deliveries/", {"status": "pending_approval"}).content.decode()
    assert "Summer sale" in page and "Winter sale" not in page
    page = client.get("/deliveries/", {"q": "winter"}).content.decode()
    assert "Winter sale" in page and "Summer sale" not in page
    assert client.get("/deliveries/", {"status": "nonsense", "page": "x"}).status_code == 200


def delivery_form(**changes) -> dict:
    form = {"label": "Form", "sender": "Shop <news@shop.example.com>", "subject": "Hi",
            "audience": seeded_audience().pk, "html_body": HTML, "text_body": TEXT,
            "is_marketing": "on", "approval_required": "on"}
    form.update(changes)
    return form


def test_the_form_creates_a_delivery_through_the_core():
    client = signed_in("maker", "prepare_deliveries")
    response = client.post("/deliveries/new/", delivery_form())
    delivery = Delivery.objects.get(label="Form")
    assert response["Location"] == f"/deliveries/{delivery.pk}/"
    assert AuditEntry.objects.filter(action="delivery.create", delivery_id=delivery.pk).exists()


@pytest.mark.parametrize("field, value, shown", [
    ("sender", "not an address", "sender"),
    ("label", "", "This field is required."),
])
def test_bad_input_is_shown_on_the_form_never_as_a_server_error(field, value, shown):
    client = signed_in("careless", "prepare_deliveries")
    response = client.post("/deliveries/new/", delivery_form(**{field: value}))
    assert response.status_code == 400
    assert shown in response.content.decode()
    assert not Delivery.objects.exists()


def test_a_draft_without_a_subject_is_kept_and_the_form_says_what_to_fix():
    client = signed_in("careless", "prepare_deliveries")
    response = client.post("/deliveries/new/", delivery_form(subject=""))
    delivery = Delivery.objects.get()
    assert response["Location"] == f"/deliveries/{delivery.pk}/edit/"
    page = client.get(response["Location"]).content.decode()
    assert 'data-finding="subject">The subject is empty.' in page


def test_a_draft_with_a_liquid_error_is_kept_and_preparation_shows_where():
    """A draft keeps the work: the error is a finding that blocks preparation."""
    client = signed_in("careless", "prepare_deliveries")
    response = client.post("/deliveries/new/",
                           delivery_form(html_body="<p>{{ first_name </p>"))
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    page = client.post(f"/deliveries/{delivery.pk}/do/prepare/", follow=True)
    assert "line 1" in page.content.decode()
    assert Delivery.objects.get().status == "preparation_failed"


def test_editing_a_prepared_delivery_sends_it_back_to_editing():
    delivery = delivery_in("pending_approval")
    client = signed_in("editor", "prepare_deliveries")
    form = delivery_form(label=delivery.label, subject="A new subject",
                         audience=delivery.audience_id)
    assert client.post(f"/deliveries/{delivery.pk}/edit/", form).status_code == 302
    delivery.refresh_from_db()
    assert (delivery.subject, delivery.status) == ("A new subject", "editing")


def test_a_refused_action_says_why_in_the_users_language_and_is_audited():
    delivery = delivery_in("approved")
    client = signed_in("paula", "prepare_deliveries", language="ko")
    page = client.post(f"/deliveries/{delivery.pk}/do/confirm/", follow=True).content.decode()
    assert "권한이 없어 발송을 확인할 수 없습니다." in page
    assert Delivery.objects.get(pk=delivery.pk).status == "approved"
    assert AuditEntry.objects.filter(action="delivery.confirm", allowed=False).exists()


def test_an_action_the_status_does_not_allow_is_refused_with_the_status():
    delivery = delivery_in("editing")
    client = signed_in("stella", "start_deliveries")
    page = client.post(f"/deliveries/{delivery.pk}/do/pause/", follow=True).content.decode()
    assert "“Editing”" in page


def test_action_bar_shows_only_what_status_and_roles_allow():
    delivery = delivery_in("in_progress")
    starter = signed_in("stella", "start_deliveries").get(f"/deliveries/{delivery.pk}/")
    page = starter.content.decode()
    assert "/do/pause/" in page and "/do/stop/" in page and "/do/resume/" not in page
    assert "/do/confirm/" not in page and "hx-trigger=\"every 1s\"" in page
    watcher = signed_in("andre", "approve_deliveries").get(f"/deliveries/{delivery.pk}/")
    assert "/do/pause/" not in watcher.content.decode()


def test_filter_editor_counts_live_and_points_at_mistakes():
    seeded_audience()
    client = signed_in("segmenter", "prepare_deliveries")
    count = client.post("/audiences/check/", {"filter": 'first_name = "민지"'}).content.decode()
    assert "1 profile selected" in count
    error = client.post("/audiences/check/", {"filter": 'language = "ko"\nand nonsense = 1'})
    text = error.content.decode()
    assert "Line 2, column 5:" in text and "nonsense" in text
    saved = client.post("/audiences/new/", {"name": "Bad", "filter": "language =="})
    assert saved.status_code == 400 and "Line 1, column" in saved.content.decode()
    client.post("/audiences/new/", {"name": "Korean", "filter": 'language = "ko"'})
    assert Audience.objects.get(name="Korean").filter == 'language = "ko"'


def test_administrators_manage_users_and_roles():
    admin = signed_in("root", "administration")
    response = admin.post("/admin/users/", {"username": "newbie", "password": "long enough pw",
                                            "roles": ["prepare_deliveries"]})
    assert response.status_code == 302
    from django.contrib.auth.models import User

    newbie = User.objects.get(username="newbie")
    admin.post(f"/admin/users/{newbie.pk}/", {"roles": ["start_deliveries"]})
    assert {r.value for r in roles_of(newbie)} == {"start_deliveries"}
    assert AuditEntry.objects.filter(action="users.roles").exists()
    assert "users.roles" in admin.get("/admin/audit/").content.decode()
    assert signed_in("nobody", "prepare_deliveries").get("/admin/users/").status_code == 403


def test_captured_messages_render_sandboxed():
    from envoi.sending.models import OutboxMessage

    message = OutboxMessage.objects.create(
        mail_from="a@x.test", rcpt_to=["b@x.test"], subject="Hi",
        data=b"Subject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
             b"<p>Hello<script>alert(1)</script></p>\r\n")
    client = signed_in("viewer", "prepare_deliveries")
    body = client.get(f"/outbox/{message.pk}/body/")
    assert "sandbox" in body["Content-Security-Policy"]
    assert "script-src 'none'" in body["Content-Security-Policy"]
    assert body["X-Frame-Options"] == "SAMEORIGIN"
    page = client.get(f"/outbox/{message.pk}/").content.decode()
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in page


@pytest.mark.parametrize("url", [
    "/deliveries/99999999/", "/deliveries/0/live/", "/deliveries/1/logs/nonsense/",
    "/profiles/99999999999999999999999/", "/profiles/?q=99999999999999999999999&page=-3",
    "/admin/audit/?delivery=99999999999999999999999", "/outbox/424242/body/",
])
def test_odd_addresses_never_cause_a_server_error(url):
    delivery_in("editing")
    client = signed_in("prober", "administration", "prepare_deliveries")
    assert client.get(url).status_code in (200, 404)


def test_list_shows_to_deliver_and_sent_live_then_as_computed(send_all):
    from envoi.deliveries.models import Delivery as D
    from envoi.reporting import kpis

    delivery = delivery_in("in_progress")
    client = signed_in("counter", "prepare_deliveries")
    numbers = '<td class="number">{}</td>\n      <td class="number">{}</td>'
    assert numbers.format(delivery.to_deliver, 0) in client.get("/deliveries/").content.decode()
    send_all()
    assert D.objects.get(pk=delivery.pk).status == "finished"
    sent = delivery.to_deliver
    assert numbers.format(sent, sent) in client.get("/deliveries/").content.decode()
    kpis.refresh(delivery.pk)  # now read from the KPIs computed after the end
    assert numbers.format(sent, sent) in client.get("/deliveries/").content.decode()
