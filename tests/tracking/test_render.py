"""Rendering with tracking: every link a click redirect except the ones that must not
be, a pixel, a mirror link; proofs without any of it."""

from __future__ import annotations

import re

import pytest

from envoi.deliveries import services as deliveries
from envoi.sending.render import DeliveryRenderer
from envoi.tracking import tokens
from envoi.tracking.models import TrackedLink
from tests.support.deliveries import boss, delivery_in
from tests.support.scenario import parse
from tests.tracking.conftest import HTML, Sent

pytestmark = pytest.mark.django_db

PROFILE = {"first_name": "Ada", "last_name": "L", "email": "ada@example.org",
           "attributes": {"tier": "gold"}}


def html_of(message) -> str:
    return parse(message.data).get_body(("html",)).get_content()


def test_links_become_signed_redirects_and_the_rest_stays_as_written(sent: Sent):
    for message in sent.messages:
        hrefs = message.hrefs
        assert len(message.clicks) == 3
        for index, url in enumerate(message.clicks):
            ref = tokens.read_click(url.removeprefix("http://testserver/c/"))
            assert (ref.delivery_id, ref.row_id, ref.link_index) == (
                sent.delivery.pk, message.row.pk, index)
        assert "https://shop.example.com/private" in hrefs  # data-envoi-notrack
        assert {"mailto:help@shop.example.com", "tel:+82212345678", "#top"} <= set(hrefs)
        assert tokens.unsubscribe_url(message.row.pk) in hrefs
        assert tokens.read_mirror(message.mirror.rsplit("/", 1)[1]).row_id == message.row.pk
        assert not any("shop.example.com/a" in h or "shop.example.com/b" in h for h in hrefs)


def test_the_open_pixel_sits_just_before_the_body_end(sent: Sent):
    for message in sent.messages:
        pixel = re.search(r'(<img src="http://testserver/o/([^"]+)" width="1" height="1" '
                          r'alt="" style="display:none">)</body>', message.html)
        assert pixel, message.html[-300:]
        assert tokens.read_open(pixel.group(2)).row_id == message.row.pk
        assert message.html.count("/o/") == 1


def test_the_stored_links_are_the_ones_the_renderer_numbered(sent: Sent):
    stored = list(TrackedLink.objects.filter(delivery=sent.delivery).order_by("index")
                  .values_list("index", "url", "personalized"))
    assert stored == [(0, "https://shop.example.com/a", False),
                      (1, "https://shop.example.com/b?x=1&amp;y=2", False),
                      (2, "https://shop.example.com/c/{{ first_name | url_encode }}", True)]
    assert [(link.index, link.url, link.personalized)
            for link in DeliveryRenderer(sent.delivery).links] == stored


def test_preparing_again_replaces_the_stored_links():
    delivery = delivery_in("pending_approval", html_body=HTML)
    deliveries.update(boss(), delivery, html_body=(
        '<a href="https://new.example">n</a> <a href="{{ unsubscribe_url }}">u</a>'))
    delivery.refresh_from_db()
    deliveries.prepare(boss(), delivery)
    assert list(TrackedLink.objects.filter(delivery=delivery).values_list("index", "url")) \
        == [(0, "https://new.example")]


def test_the_text_part_keeps_its_urls_and_may_name_the_mirror_page():
    delivery = delivery_in("editing", text_body=(
        "Shop: https://shop.example.com/a\nWeb: {{ mirror_url }}\nStop: {{ unsubscribe_url }}"))
    text = parse(DeliveryRenderer(delivery).render(5, "a@b.example", PROFILE).data) \
        .get_body(("plain",)).get_content()
    assert "Shop: https://shop.example.com/a\n" in text
    assert f"Stop: {tokens.unsubscribe_url(5)}" in text
    web = re.search(r"Web: (\S+)", text).group(1)
    assert tokens.read_mirror(web.rsplit("/", 1)[1]).row_id == 5


def test_a_proof_carries_no_tracking_at_all():
    delivery = delivery_in("editing", html_body=HTML)
    html = html_of(DeliveryRenderer(delivery, "[Proof 1] ").render(
        0, "proof@example.com", PROFILE, unsubscribe_url="http://testserver/u/proof"))
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs[:2] == ["https://shop.example.com/a", "https://shop.example.com/c/Ada"]
    assert "<a href='https://shop.example.com/b?x=1&amp;y=2'>B</a>" in html
    assert "http://testserver/m/proof" in hrefs and "http://testserver/u/proof" in hrefs
    assert "testserver/c/" not in html and "/o/" not in html and "<img" not in html


def test_personalized_links_that_are_no_web_address_for_a_recipient_stay_as_written():
    delivery = delivery_in("editing", html_body=(
        '<a href="{{ attributes.site }}">site</a> <a href="{{ unsubscribe_url }}">u</a>'))
    renderer = DeliveryRenderer(delivery)
    web = html_of(renderer.render(5, "a@b.example", {"attributes": {"site": "https://x.example"}}))
    assert re.search(r'href="http://testserver/c/[^"]+"', web)
    mail = html_of(renderer.render(6, "a@b.example", {"attributes": {"site": "mailto:a@b.c"}}))
    assert 'href="mailto:a@b.c"' in mail


def test_links_inside_liquid_blocks_get_their_own_recipient_urls():
    """Slots inside {% if %}/{% for %} may render zero or many times: still the right URL."""
    delivery = delivery_in("editing", html_body=(
        '{% if attributes.tier == "gold" %}<a href="https://gold.example">g</a>{% endif %}'
        '{% for n in (1..2) %}<a href="https://loop.example">l</a>{% endfor %}'
        '<a href="https://last.example">z</a> {{ unsubscribe_url }}'))
    renderer = DeliveryRenderer(delivery)
    assert not renderer.html.in_order
    hrefs = re.findall(r'href="([^"]*)"', html_of(renderer.render(9, "a@b.example", PROFILE)))
    indexes = [tokens.read_click(h.rsplit("/", 1)[1]).link_index for h in hrefs]
    assert indexes == [0, 1, 1, 2]
    plain = re.findall(r'href="([^"]*)"', html_of(renderer.render(
        9, "a@b.example", {"attributes": {"tier": "basic"}})))
    assert [tokens.read_click(h.rsplit("/", 1)[1]).link_index for h in plain] == [1, 1, 2]


def test_profile_values_cannot_forge_a_slot():
    delivery = delivery_in("editing", html_body=(
        '<p>{{ first_name }}</p><a href="https://x.example">x</a>{{ unsubscribe_url }}'))
    renderer = DeliveryRenderer(delivery)
    assert renderer.html.in_order
    html = html_of(renderer.render(3, "a@b.example", {"first_name": "\x00123:0;\x00"}))
    assert len(re.findall(r'href="http://testserver/c/', html)) == 1
