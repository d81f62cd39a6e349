"""Bad tokens lead nowhere: a plain "link expired" page, no Location, no event. Valid
ones lead only to links the message contained."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from envoi.audiences.models import Profile
from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from envoi.tracking.models import TrackingEvent
from envoi.tracking.tokens import MessageTokens
from tests.support.deliveries import delivery_in
from tests.tracking.conftest import TARGETS, Sent

pytestmark = pytest.mark.django_db

EXPIRED_PAGE = b"This link has expired"


def assert_refused(response) -> None:
    assert response.status_code == 400, response.status_code
    assert "Location" not in response
    assert EXPIRED_PAGE in response.content


def altered(token: str) -> list[str]:
    """Every single-character change of the token, position by position."""
    return [token[:i] + ("1" if c == "0" else "0") + token[i + 1:] for i, c in enumerate(token)]


def test_every_altered_click_token_gets_the_plain_page(client, sent: Sent):
    token = sent.messages[0].clicks[0].rsplit("/", 1)[1]
    for bad in altered(token):
        assert_refused(client.get(f"/c/{bad}"))
    assert not TrackingEvent.objects.exists()


def test_every_altered_mirror_token_gets_the_plain_page(client, sent: Sent):
    token = sent.messages[0].mirror.rsplit("/", 1)[1]
    for bad in altered(token):
        assert_refused(client.get(f"/m/{bad}"))
    assert not TrackingEvent.objects.exists()


def test_an_altered_pixel_still_shows_but_logs_nothing(client, sent: Sent):
    token = sent.messages[0].pixel.rsplit("/", 1)[1]
    for bad in altered(token):
        response = client.get(f"/o/{bad}")
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert not TrackingEvent.objects.exists()


def test_truncated_forged_and_junk_tokens_get_the_plain_page(client, sent: Sent):
    message = sent.messages[0]
    token = message.clicks[0].rsplit("/", 1)[1]
    other_row = MessageTokens(sent.delivery.pk, message.row.pk + 1).urls("", 1).clicks[0]
    forged = other_row.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    junk = ["", "x", "../../etc/passwd", "%00", "a" * 5000, "https://evil.example",
            "//evil.example", f"{token}/../../evil"]
    for bad in [token[:cut] for cut in range(1, len(token))] + [forged.removeprefix("/c/"),
                                                                *junk]:
        for endpoint in ("c", "m"):
            assert_refused(client.get(f"/{endpoint}/{bad}"))
    assert not TrackingEvent.objects.exists()


def test_a_pixel_token_does_not_open_the_mirror_or_redirect(client, sent: Sent):
    pixel = sent.messages[0].pixel.rsplit("/", 1)[1]
    assert_refused(client.get(f"/m/{pixel}"))
    assert_refused(client.get(f"/c/{pixel}"))


def test_expired_tokens_get_the_plain_page(client, sent: Sent, settings):
    message = sent.messages[0]
    old = MessageTokens(sent.delivery.pk, message.row.pk, tokens.today() - 401).urls(
        "", 3)
    assert_refused(client.get(old.clicks[0]))
    assert_refused(client.get(old.mirror))
    settings.ENVOI_TRACKING_DAYS = 500
    assert client.get(old.clicks[0])["Location"] == TARGETS[0]


def test_a_signed_index_past_the_messages_links_leads_nowhere(client, sent: Sent):
    message = sent.messages[0]
    beyond = MessageTokens(sent.delivery.pk, message.row.pk).urls("", 10).clicks[3:]
    for url in beyond:
        assert_refused(client.get(url))


def test_a_personalized_link_leads_only_to_a_web_address(client):
    delivery = delivery_in("in_progress", html_body=(
        '<a href="{{ attributes.site }}">site</a> {{ unsubscribe_url }}'))
    rows = list(SendingLog.objects.filter(delivery=delivery).order_by("id"))
    sites = ["https://ok.example/x", "javascript:alert(1)", "//evil.example", ""]
    for row, site in zip(rows, sites, strict=True):
        Profile.objects.filter(pk=row.profile_id).update(attributes={"site": site})
    responses = [client.get(MessageTokens(delivery.pk, row.pk).urls("", 1).clicks[0])
                 for row in rows]
    assert responses[0]["Location"] == "https://ok.example/x"
    for response in responses[1:]:
        assert_refused(response)


@hypothesis_settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
@given(data=st.data())
def test_any_redirect_goes_to_a_link_the_message_contained(client, sent: Sent, data):
    """Random tokens — junk, well-shaped forgeries, and validly signed tokens for any
    message and any link index — either redirect to one of that delivery's rendered
    link targets or get the plain page."""
    allowed = set(TARGETS)
    for message in sent.messages:
        name = Profile.objects.get(pk=message.row.profile_id).first_name
        allowed.add(f"https://shop.example.com/c/{quote_plus(name)}")
    rows = [m.row.pk for m in sent.messages]
    signed = st.builds(
        lambda delivery, row, link, day: MessageTokens(delivery, row, day).urls(
            "", link + 1).clicks[link].removeprefix("/c/"),
        st.sampled_from([sent.delivery.pk, sent.delivery.pk + 1]),
        st.sampled_from(rows) | st.integers(0, 10**6),
        st.integers(0, 60), st.integers(tokens.today() - 500, tokens.today() + 3))
    shaped = st.builds(
        lambda d, r, day, link, mac: f"{d:x}.{r:x}.{day:x}.{link:x}.{mac}",
        st.integers(0, 50), st.integers(0, 10**6), st.integers(0, 30_000), st.integers(0, 99),
        st.text("0123456789abcdef", min_size=20, max_size=20))
    token = data.draw(signed | shaped | st.text(max_size=80))
    response = client.get("/c/" + token)
    if response.status_code == 302:
        assert response["Location"] in allowed
    else:
        assert_refused(response)


def test_an_entity_encoded_line_break_in_a_link_cannot_split_the_location_header():
    from envoi.tracking.services import LinkTarget

    target = LinkTarget("https://shop.example.com/&#10;Set-Cookie: a=b&#13;".replace(
        "&#10;", "\n").replace("&#13;", "\r"))
    assert b"\r" not in target.location and b"\n" not in target.location
    assert target.location == b"https://shop.example.com/%0ASet-Cookie:%20a=b%0D"
