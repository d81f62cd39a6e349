"""The ASGI fast path answers valid pixel and cached plain-link clicks like the views
do, and hands everything else to Django."""

from __future__ import annotations

import asyncio

import pytest

from envoi.tracking import buffer, services, tokens
from envoi.tracking.views import TRANSPARENT_GIF, FastPaths
from tests.tracking.conftest import TARGETS, Sent, path_of

pytestmark = pytest.mark.django_db


class Django:
    """Stands in for the Django application: records that it was asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append(scope["path"])


def call(app, path: str, method: str = "GET") -> dict:
    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"user-agent", b"curl/8.5.0")]}
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, None, send))
    if not sent:
        return {}
    return {"status": sent[0]["status"], "headers": dict(sent[0]["headers"]),
            "body": sent[1]["body"]}


@pytest.fixture
def buffered(monkeypatch) -> list[buffer.Hit]:
    hits: list[buffer.Hit] = []
    monkeypatch.setattr(buffer, "buffering", lambda: True)
    monkeypatch.setattr(buffer, "record", hits.append)
    return hits


def test_a_cached_plain_click_is_answered_without_django(sent: Sent, buffered):
    django = Django()
    app = FastPaths(django)
    url = path_of(sent.messages[0].clicks[1])
    assert call(app, url) == {} and django.paths == [url]  # not cached yet: Django
    services.click_target(tokens.read_click(url.removeprefix("/c/")))  # what Django did
    answer = call(app, url)
    assert answer["status"] == 302 and answer["headers"][b"location"] == TARGETS[1].encode()
    assert answer["headers"][b"cache-control"] == b"no-store"
    (hit,) = buffered
    assert (hit.kind, hit.row_id, hit.link_index, hit.url, hit.machine) == (
        "click", sent.messages[0].row.pk, 1, TARGETS[1], True)


def test_the_pixel_is_answered_without_django(sent: Sent, buffered):
    answer = call(FastPaths(Django()), path_of(sent.messages[1].pixel))
    assert answer["status"] == 200 and answer["body"] == TRANSPARENT_GIF
    assert buffered[0].kind == "open"


def test_bad_tokens_personalized_links_and_other_paths_go_to_django(sent: Sent, buffered):
    django = Django()
    app = FastPaths(django)
    personalized = path_of(sent.messages[0].clicks[2])
    services.click_target(tokens.read_click(personalized.removeprefix("/c/")))
    good = path_of(sent.messages[0].clicks[0])
    paths = [good[:-1] + ("0" if good[-1] != "0" else "1"), personalized, "/c/",
             path_of(sent.messages[0].mirror), "/api/v1/openapi.json", "/o/nonsense"]
    for path in paths:
        assert call(app, path) == {}
    assert call(app, good, method="HEAD") == {}
    assert django.paths == [*paths, good] and not buffered


def test_without_a_running_buffer_everything_goes_to_django(sent: Sent):
    django = Django()
    pixel = path_of(sent.messages[1].pixel)
    assert call(FastPaths(django), pixel) == {} and django.paths == [pixel]
