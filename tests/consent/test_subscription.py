"""The subscription form, its double opt-in through a real SMTP server, the preference
centre and unsubscribe reasons, over Django's test client (the browser test is in
tests/web/test_consent_browser.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent.models import ConsentEvent, PublicList, Unsubscription
from envoi.consent.services import has_consent, unsubscribe_reasons
from envoi.consent.subscription import form_stamp
from tests.support.deliveries import prepared_delivery
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def quick_form(settings):
    settings.ENVOI_SUBSCRIBE_MIN_SECONDS = 0


def form_page(client: Client, language: str = "en"):
    page = client.get("/subscribe", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    stamp = re.search(r'name="stamp" value="([^"]+)"', page.content.decode()).group(1)
    return page, stamp


def confirmation_link(message) -> str:
    body = parse(message.data).get_body(("plain",)).get_content()
    return re.search(r"http://testserver(/subscribe/confirm/\S+)", body).group(1)


def test_double_opt_in_records_consent_only_when_confirmed(relay, quick_form):
    news = Audience.objects.create(name="news-list", kind=Audience.LIST)
    PublicList.objects.create(audience=news, title="Weekly news")
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Firefox/128")
    page, stamp = form_page(client, "ja")
    assert "Weekly news" in page.content.decode()
    token = client.cookies["csrftoken"].value
    answer = client.post("/subscribe", {"email": " Sakura@Example.jp ", "first_name": "さくら",
                                        "lists": [str(news.pk)], "stamp": stamp,
                                        "csrfmiddlewaretoken": token},
                         HTTP_ACCEPT_LANGUAGE="ja")
    assert answer.status_code == 200 and answer["Content-Language"] == "ja"
    profile = Profile.objects.get()
    assert profile.email == "Sakura@Example.jp" and profile.language == "ja"
    assert not has_consent(profile, "email")
    (message,) = relay.messages
    assert list(message.rcpt_to) == ["Sakura@Example.jp"]
    link = confirmation_link(message)

    # Opening the link (a mail scanner does) changes nothing; the button does.
    assert client.get(link).status_code == 200
    assert not has_consent(profile, "email")
    confirm_page = client.get(link)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                     confirm_page.content.decode()).group(1)
    done = client.post(link, {"csrfmiddlewaretoken": csrf})
    assert done.status_code == 200
    assert has_consent(profile, "email")
    assert AudienceMember.objects.filter(profile=profile, audience=news).exists()
    request, confirmed = ConsentEvent.objects.order_by("id")
    assert (request.move, request.source, request.language) == ("request", "form", "ja")
    assert request.ip == "127.0.0.1" and request.user_agent == "Firefox/128"
    assert "unsubscribe" in request.wording.lower() or "配信" in request.wording
    assert confirmed.move == "confirm"


def test_the_form_refuses_robots_and_cross_site_posts(relay, settings):
    settings.ENVOI_SUBSCRIBE_MIN_SECONDS = 60
    client = Client(enforce_csrf_checks=True)
    _page, stamp = form_page(client)
    token = client.cookies["csrftoken"].value
    fields = {"email": "bot@example.com", "csrfmiddlewaretoken": token}
    too_fast = client.post("/subscribe", {**fields, "stamp": stamp})
    assert too_fast.status_code == 400
    settings.ENVOI_SUBSCRIBE_MIN_SECONDS = 0
    assert client.post("/subscribe", {**fields, "stamp": stamp,
                                      "website": "spam"}).status_code == 400
    assert client.post("/subscribe", {**fields, "stamp": "forged:1:x"}).status_code == 400
    bad = client.post("/subscribe", {**fields, "email": "not an address", "stamp": stamp})
    assert bad.status_code == 400 and b"not an address" in bad.content
    # Another site posting without the token is refused; the embedded snippet's post
    # lands on a filled-in form that still needs the person's press.
    assert Client(enforce_csrf_checks=True).post(
        "/subscribe", {"email": "x@example.com", "stamp": form_stamp()}).status_code == 403
    embedded = Client(enforce_csrf_checks=True).post(
        "/subscribe/embedded", {"email": "person@example.com"}, HTTP_ACCEPT_LANGUAGE="ko")
    assert embedded.status_code == 200 and b"person@example.com" in embedded.content
    assert embedded["Content-Language"] == "ko"
    assert not Profile.objects.exists() and not relay.messages


def test_preference_centre_and_reasons_counted_per_delivery(relay, send_all, settings):
    settings.ENVOI_REQUIRE_CONSENT = False  # the profiles below have no consent records
    topics = Audience.objects.create(name="topics", kind=Audience.LIST)
    PublicList.objects.create(audience=topics, title="Recipes")
    delivery = prepared_delivery("pref", 3)
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    services.confirm(boss(), delivery)
    send_all()
    by_address = {m.rcpt_to[0]: parse(m.data).get_body(("plain",)).get_content()
                  for m in relay.messages}
    tokens_ = [re.search(r"/u/(\S+)", by_address[f"pref{i}@example.com"]).group(1)
               for i in range(3)]
    client = Client()
    Profile.objects.update(language="ko")
    page = client.get(f"/p/{tokens_[0]}")
    assert page.status_code == 200 and page["Content-Language"] == "ko"
    csrf = client.cookies["csrftoken"].value
    client.post(f"/p/{tokens_[0]}", {"action": "save", "lists": [str(topics.pk)],
                                     "csrfmiddlewaretoken": csrf})
    first = Profile.objects.get(email="pref0@example.com")
    assert first.email_opt_out and AudienceMember.objects.filter(audience=topics).count() == 1
    client.post(f"/p/{tokens_[1]}", {"action": "unsubscribe", "reason": "too_many",
                                     "csrfmiddlewaretoken": csrf})
    # RFC 8058: no login, no token, no confirmation; a reason from the page comes later.
    assert Client().post(f"/u/{tokens_[2]}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    Client().post(f"/u/{tokens_[2]}", {"reason": "not_relevant"})
    assert unsubscribe_reasons([delivery.pk]) == {
        delivery.pk: {"too_many": 1, "not_relevant": 1}}
    assert Unsubscription.objects.count() == 2
    assert Client().get("/p/nonsense").status_code == 400
