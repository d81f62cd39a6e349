"""Once its delivery is deleted, a click link leads nowhere — in the process that
deleted it at once, and in every other serving process within the link cache's age —
while clicks on live deliveries stay answered from the cache."""

from __future__ import annotations

import time
import urllib.request

import pytest
from django.db import transaction

from envoi.deliveries import services as deliveries
from envoi.deliveries.models import Delivery
from envoi.tracking import services
from envoi.tracking.views import FastPaths
from tests.support.deliveries import boss
from tests.support.smtpd import free_port
from tests.tracking.conftest import TARGETS, Sent, path_of
from tests.tracking.test_fast_paths import Django, buffered, call  # noqa: F401 (fixture)
from tests.tracking.test_sigterm import NoRedirect, click, start_server, wait_until_serving


def delete(delivery: Delivery) -> None:
    """Remove a sent delivery's rows as only the database can: the service refuses to
    delete a delivery that has sent (tests/deliveries/test_available_actions.py), so this
    is a purge outside Envoi, and the process that did it forgets the links at once."""
    deliveries.stop(boss(), delivery)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).delete()
        transaction.on_commit(lambda: services.forget_links(delivery.pk))


@pytest.mark.django_db
@pytest.mark.usefixtures("buffered")
def test_a_deleted_deliverys_link_gets_the_plain_page_at_once(
        client, sent: Sent, django_capture_on_commit_callbacks):
    url = path_of(sent.messages[0].clicks[0])
    assert client.get(url).status_code == 302  # Django's view; the links are now cached
    app = FastPaths(Django())
    assert call(app, url)["headers"][b"location"] == TARGETS[0].encode()

    with django_capture_on_commit_callbacks(execute=True):  # as when the deletion commits
        delete(sent.delivery)
    assert call(app, url) == {}  # no longer answered from the cache
    response = client.get(url)
    assert response.status_code == 400 and "Location" not in response
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
@pytest.mark.usefixtures("buffered")
def test_a_link_cached_by_this_process_is_read_again_once_its_age_passes(
        client, sent: Sent, monkeypatch):
    """Another process deleted the delivery: this one finds out at its next click past
    the cache's age, with one query; within the age, clicks need no database."""
    monkeypatch.setattr(services._LinkCache, "MAX_AGE", 1.0)
    url = path_of(sent.messages[0].clicks[1])
    assert client.get(url).status_code == 302
    app = FastPaths(Django())
    assert call(app, url)["status"] == 302
    Delivery.objects.filter(pk=sent.delivery.pk).delete()  # as another process would
    assert call(app, url)["status"] == 302  # still fresh here
    time.sleep(1.0)
    assert call(app, url) == {}
    assert client.get(url).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_serving_process_stops_redirecting_a_deleted_deliverys_links(sent: Sent):
    """A real ``envoi serve`` process (the buffered shape, fast path included) answers
    clicks; this process deletes the delivery; the server's redirects stop within the
    cache's age."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = base + path_of(sent.messages[0].clicks[0])
    process = start_server(port)
    try:
        wait_until_serving(base, process)
        opener = urllib.request.build_opener(NoRedirect)
        assert [click(opener, url) for _ in range(20)] == [302] * 20  # cached by now
        delete(sent.delivery)
        deleted_at = time.monotonic()
        deadline = deleted_at + services._LinkCache.MAX_AGE + 3
        while click(opener, url) == 302 and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - deleted_at
        after = [click(opener, url) for _ in range(20)]
    finally:
        process.terminate()
        process.communicate(timeout=60)
    assert after == [400] * 20, f"still redirecting {took:.1f} s after the deletion"
    assert took < services._LinkCache.MAX_AGE + 1
