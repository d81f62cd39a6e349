"""The pixel, click, mirror and unsubscribe endpoints, through Django's test client:
what they answer and what they log (events are written through, no buffer running)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from django.utils import timezone

from envoi.audiences.models import Profile
from envoi.sending.models import SendingLog
from envoi.tracking import services
from envoi.tracking.models import MessageEngagement, TrackedLink, TrackingEvent
from envoi.tracking.views import TRANSPARENT_GIF
from tests.tracking.conftest import TARGETS, Sent, path_of

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)"


def get(client, url: str, agent: str = BROWSER, method: str = "get"):
    return getattr(client, method)(path_of(url), headers={"User-Agent": agent})


def first_name(sent: Sent, index: int) -> str:
    return Profile.objects.get(pk=sent.messages[index].row.profile_id).first_name


def test_a_click_redirects_to_the_link_and_logs_it(client, sent: Sent):
    message = sent.messages[0]
    response = get(client, message.clicks[1])
    assert response.status_code == 302
    assert response["Location"] == TARGETS[1]  # the href, HTML-unescaped
    assert response["Cache-Control"] == "no-store"
    event = TrackingEvent.objects.get()
    assert (event.kind, event.row_id, event.delivery_id, event.profile_id) == (
        "click", message.row.pk, sent.delivery.pk, message.row.profile_id)
    assert (event.link_index, event.url, event.user_agent, event.machine) == (
        1, TARGETS[1], BROWSER, False)
    assert abs(event.at - timezone.now()) < timedelta(seconds=5)


def test_a_personalized_link_leads_to_the_recipients_own_url(client, sent: Sent):
    for index, message in enumerate(sent.messages):
        response = get(client, message.clicks[2])
        expected = f"https://shop.example.com/c/{quote_plus(first_name(sent, index))}"
        assert (response.status_code, response["Location"]) == (302, expected)


def test_a_personalized_link_its_profile_breaks_gets_the_invalid_link_page(client, sent: Sent):
    """A profile without the attribute the link divides by: the page that says the link
    is not valid (400), no 500, no redirect, nothing recorded."""
    TrackedLink.objects.filter(delivery=sent.delivery, index=2).update(
        url="https://shop.example.com/c/{{ 10 | divided_by: attributes.count }}")
    services.forget_links()
    response = get(client, sent.messages[0].clicks[2])
    assert response.status_code == 400 and "Location" not in response
    assert not TrackingEvent.objects.exists()


def test_the_pixel_is_a_transparent_gif_that_logs_an_open(client, sent: Sent):
    response = get(client, sent.messages[1].pixel)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content == TRANSPARENT_GIF and len(response.content) == 43
    assert "no-store" in response["Cache-Control"]
    event = TrackingEvent.objects.get()
    assert (event.kind, event.row_id, event.link_index) == ("open", sent.messages[1].row.pk, None)
    assert MessageEngagement.objects.get(row_id=event.row_id).opened_at == event.at


def test_the_mirror_page_is_the_message_as_the_recipient_saw_it(client, sent: Sent):
    message = sent.messages[2]
    response = get(client, message.mirror)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Hello {first_name(sent, 2)}" in page
    assert page.count("http://testserver/c/") == 3 and "/o/" not in page
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert TrackingEvent.objects.get().kind == "mirror"


def test_the_proof_mirror_link_shows_a_proof_page(client):
    response = client.get("/m/proof")
    assert response.status_code == 200 and b"This is a proof" in response.content


def test_unsubscribing_logs_an_event_each_time_and_counts_once(client, sent: Sent):
    row = sent.messages[3].row
    unsubscribe = next(h for h in sent.messages[3].hrefs if "/u/" in h)
    assert get(client, unsubscribe).status_code == 200  # the confirmation page: no event
    assert not TrackingEvent.objects.exists()
    for _ in range(2):
        response = client.post(path_of(unsubscribe), {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    assert Profile.objects.get(pk=row.profile_id).email_opt_out
    assert TrackingEvent.objects.filter(kind="unsubscribe", row_id=row.pk).count() == 2
    engagement = MessageEngagement.objects.get(row_id=row.pk)
    assert engagement.unsubscribed_at == engagement.opened_at == TrackingEvent.objects.earliest(
        "at").at


def test_a_replayed_click_is_logged_twice_and_counted_once(client, sent: Sent):
    url = sent.messages[0].clicks[0]
    for _ in range(2):
        assert get(client, url)["Location"] == TARGETS[0]
    events = list(TrackingEvent.objects.order_by("id"))
    assert len(events) == 2
    engagement = MessageEngagement.objects.get()
    assert engagement.clicked_at == engagement.human_clicked_at == events[0].at


def test_scanners_head_requests_and_instant_clicks_are_flagged_machine(client, sent: Sent):
    get(client, sent.messages[0].clicks[0], agent=SCANNER)
    get(client, sent.messages[1].clicks[0], method="head")
    SendingLog.objects.filter(pk=sent.messages[2].row.pk).update(sent_at=timezone.now())
    get(client, sent.messages[2].clicks[0])
    get(client, sent.messages[3].clicks[0])
    flags = dict(TrackingEvent.objects.values_list("row_id", "machine"))
    assert flags == {sent.messages[0].row.pk: True, sent.messages[1].row.pk: True,
                     sent.messages[2].row.pk: True, sent.messages[3].row.pk: False}
    assert MessageEngagement.objects.filter(human_clicked_at__isnull=False).count() == 1
