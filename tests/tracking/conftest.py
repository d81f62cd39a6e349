"""A delivery sent to the four sendable profiles of the shared scenario, with links of
every kind, and each recipient's links as the message carried them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from envoi.sending.render import DeliveryRenderer
from envoi.sending.worker import load_profiles
from envoi.tracking import buffer, services
from tests.support.deliveries import delivery_in
from tests.support.scenario import parse

HTML = """<html><body>
<p>Hello {{ first_name }}</p>
<a href="https://shop.example.com/a">A</a>
<a href='https://shop.example.com/b?x=1&amp;y=2'>B</a>
<a href="https://shop.example.com/c/{{ first_name | url_encode }}">C</a>
<a href="https://shop.example.com/private" data-envoi-notrack>D</a>
<a href="mailto:help@shop.example.com">mail</a> <a href="tel:+82212345678">call</a>
<a href="#top">top</a>
<a href="{{ mirror_url }}">View in browser</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a>
</body></html>"""

TARGETS = ["https://shop.example.com/a", "https://shop.example.com/b?x=1&y=2"]
"""Plain link targets, in order; link 2 leads to .../c/<first name>."""


@dataclass(frozen=True)
class Message:
    row: SendingLog
    html: str
    text: str

    @property
    def hrefs(self) -> list[str]:
        return [m.group(2) for m in re.finditer(r"""href=(["'])(.*?)\1""", self.html)]

    @property
    def clicks(self) -> list[str]:
        return [h for h in self.hrefs if "/c/" in h]

    @property
    def pixel(self) -> str:
        match = re.search(r'<img src="([^"]+/o/[^"]+)"', self.html)
        assert match, self.html
        return match.group(1)

    @property
    def mirror(self) -> str:
        return next(h for h in self.hrefs if "/m/" in h)

    def link_targets(self, first_name: str) -> set[str]:
        return {*TARGETS, f"https://shop.example.com/c/{first_name}"}


@dataclass(frozen=True)
class Sent:
    delivery: Delivery
    messages: list[Message]


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture(autouse=True)
def _fresh_tracking_state() -> Iterator[None]:
    services.forget_links()
    buffer.forget_recent_clicks()
    assert not buffer.buffering()
    yield
    services.forget_links()
    buffer.forget_recent_clicks()


@pytest.fixture
def sent(db) -> Sent:
    """Prepared like any delivery (its links stored), its rows marked sent an hour ago,
    and each message rendered by the same renderer the worker uses."""
    delivery = delivery_in("in_progress", html_body=HTML)
    SendingLog.objects.filter(delivery=delivery).update(
        status="sent", sent_at=timezone.now() - timedelta(hours=1))
    rows = list(SendingLog.objects.filter(delivery=delivery).order_by("id"))
    profiles = load_profiles(row.profile_id for row in rows)
    renderer = DeliveryRenderer(delivery)
    messages = []
    for row in rows:
        parsed = parse(renderer.render(row.id, row.address, profiles[row.profile_id]).data)
        messages.append(Message(row, parsed.get_body(("html",)).get_content(),
                                parsed.get_body(("plain",)).get_content()))
    return Sent(delivery, messages)
