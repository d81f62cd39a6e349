"""The subscription form's limits: posts per client address and confirmation mails per
email address, counted in the database and answered with a translated 429 page."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from envoi import clock
from envoi.audiences.models import Profile
from envoi.consent import ratelimit
from envoi.consent.models import ConsentEvent, RateCounter, Source
from envoi.consent.services import Evidence, record_consent
from tests.consent.test_subscription import form_page

NOON = datetime(2026, 12, 6, 12, 10, tzinfo=UTC)


@pytest.fixture
def quick_form(settings):
    settings.ENVOI_SUBSCRIBE_MIN_SECONDS = 0


def post_form(client: Client, email: str, language: str = "en", ip: str = "198.51.100.7"):
    _page, stamp = form_page(client, language)
    return client.post("/subscribe", {"email": email, "stamp": stamp},
                       HTTP_ACCEPT_LANGUAGE=language, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_one_client_address_is_limited_per_hour(relay, quick_form, settings):
    settings.ENVOI_SUBSCRIBE_RATE = 2
    client = Client()
    assert post_form(client, "one@example.com").status_code == 200
    assert post_form(client, "two@example.com").status_code == 200
    refused = post_form(client, "three@example.com", language="ko")
    page = refused.content.decode()
    assert refused.status_code == 429 and refused["Content-Language"] == "ko"
    assert "요청이 너무 많습니다" in page and "Too many" not in page
    assert 0 < int(refused["Retry-After"]) <= 3600
    # Nothing recorded or sent past the limit; the snippet's landing is limited too.
    assert sorted(Profile.objects.values_list("email", flat=True)) == [
        "one@example.com", "two@example.com"]
    assert len(relay.messages) == 2
    embedded = Client().post("/subscribe/embedded", {"email": "x@example.com"},
                             REMOTE_ADDR="198.51.100.7", HTTP_ACCEPT_LANGUAGE="ja")
    assert embedded.status_code == 429 and "リクエストが多すぎます" in embedded.content.decode()
    # Another address is not held back by this one.
    assert post_form(Client(), "three@example.com", ip="203.0.113.9").status_code == 200


@pytest.mark.django_db
def test_one_person_gets_a_few_confirmations_an_hour_whoever_asks(relay, quick_form,
                                                                  settings):
    settings.ENVOI_SUBSCRIBE_RATE = 0  # only the per-address limit here
    settings.ENVOI_SUBSCRIBE_ADDRESS_RATE = 2
    # Already subscribed: the old check counted pending requests, so a granted address
    # could be sent confirmations without end.
    profile = Profile.objects.create(email="target@example.com")
    record_consent(profile, "email", Evidence(Source.API, wording="yes"))
    for ip, spelling in (("192.0.2.1", "target@example.com"),
                         ("192.0.2.2", " Target@Example.COM ")):
        assert post_form(Client(), spelling, ip=ip).status_code == 200
    refused = post_form(Client(), "TARGET@example.com", language="ja", ip="192.0.2.3")
    assert refused.status_code == 429 and "リクエストが多すぎます" in refused.content.decode()
    assert len(relay.messages) == 2
    assert not ConsentEvent.objects.filter(move="request").exists()  # granted stays
    # The table holds neither the address nor the IP, only keyed hashes.
    keys = "".join(RateCounter.objects.values_list("key", flat=True))
    assert "target" not in keys.lower() and "192.0.2" not in keys


@pytest.mark.django_db
def test_counters_are_per_clock_hour_and_forgotten_after(settings):
    settings.ENVOI_SUBSCRIBE_ADDRESS_RATE = 1
    with clock.stopped_at(NOON):
        ratelimit.take_recipient("a@example.com")
        with pytest.raises(ratelimit.RateLimited) as limited:
            ratelimit.take_recipient("A@example.com")
    assert limited.value.retry_after == 50 * 60
    with clock.stopped_at(NOON + timedelta(hours=1)):
        ratelimit.take_recipient("a@example.com")  # a new hour
        ratelimit.take_recipient("b@example.com")
    assert RateCounter.objects.filter(window__lt=NOON + timedelta(minutes=50)).count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_connections_counting_at_once(settings):
    """Eight connections (as eight `envoi serve` processes would hold) post at once:
    exactly the limit gets through."""
    settings.ENVOI_SUBSCRIBE_RATE = 5
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def post() -> None:
        start.wait()
        try:
            ratelimit.take_client("198.51.100.50")
            outcomes.append("ok")
        except ratelimit.RateLimited:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 3
    assert RateCounter.objects.get().count == 8
