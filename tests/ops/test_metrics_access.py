"""``/metrics`` answers loopback (or ``ENVOI_METRICS_ALLOW``) addresses, or the bearer
token of a user whose roles allow ``metrics.view`` (administration); nobody else."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.roles import Role
from envoi.accounts.services import create_token, create_user
from envoi.ops.access import parse_allow

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.7"


def scrape(address: str, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get("/metrics", REMOTE_ADDR=address, **headers)


def test_loopback_reads_the_metrics():
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        response = scrape(address)
        assert response.status_code == 200, address
        assert response["Content-Type"].startswith("text/plain; version=")
        body = response.content.decode()
        assert "# TYPE envoi_messages_sent_total counter" in body
        assert 'envoi_queue_rows{state="pending"}' in body


def test_another_address_is_refused_without_a_token():
    response = scrape(OUTSIDE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert b"envoi_" not in response.content


def test_an_administrators_token_reads_from_anywhere():
    token = create_token(create_user("ops", [Role.ADMINISTRATION]))
    assert scrape(OUTSIDE, token).status_code == 200


def test_other_tokens_are_refused():
    preparer = create_token(create_user("prep", [Role.PREPARE_DELIVERIES, Role.EXPORT]))
    assert scrape(OUTSIDE, preparer).status_code == 401
    assert scrape(OUTSIDE, "envoi_not-a-token").status_code == 401


def test_allowed_networks_read_without_a_token(settings):
    settings.ENVOI_METRICS_ALLOW = "10.0.0.0/8, 203.0.113.7"
    assert scrape(OUTSIDE).status_code == 200
    assert scrape("10.1.2.3").status_code == 200
    assert scrape("127.0.0.1").status_code == 401  # the list replaces the default
    assert scrape("192.0.2.1").status_code == 401


def test_a_bad_allow_entry_is_named():
    with pytest.raises(ValueError, match="ENVOI_METRICS_ALLOW: '10.0.0/33' is not an address"):
        parse_allow("127.0.0.1 10.0.0/33")
