"""Tracking tokens: they name one message and one link, and nothing else verifies."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from envoi.tracking import tokens
from envoi.tracking.tokens import BadToken, MessageTokens

BASE = "https://t.example"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def issued(delivery: int = 7, row: int = 123_456, links: int = 5, day: int | None = None):
    return MessageTokens(delivery, row, day).urls(BASE, links)


def test_each_token_reads_back_what_it_was_issued_for():
    urls = issued()
    assert urls.open.startswith(f"{BASE}/o/") and urls.mirror.startswith(f"{BASE}/m/")
    ref = tokens.read_open(token_of(urls.open))
    assert (ref.delivery_id, ref.row_id, ref.day, ref.link_index) == (7, 123_456,
                                                                     tokens.today(), None)
    assert tokens.read_mirror(token_of(urls.mirror)).row_id == 123_456
    for index, url in enumerate(urls.clicks):
        assert url.startswith(f"{BASE}/c/")
        assert tokens.read_click(token_of(url)).link_index == index


def test_tokens_are_compact_lower_case_and_url_safe():
    urls = issued(delivery=10**6, row=10**9, links=45)
    for url in [urls.open, urls.mirror, *urls.clicks]:
        token = token_of(url)
        assert set(token) <= set(string.hexdigits.lower() + ".")
        assert len(token) <= 48, token
    assert tokens.read_click(token_of(urls.clicks[44]).upper()).link_index == 44


def test_a_token_is_worth_nothing_at_another_endpoint_or_for_another_link():
    urls = issued()
    open_token, mirror_token = token_of(urls.open), token_of(urls.mirror)
    with pytest.raises(BadToken):
        tokens.read_mirror(open_token)
    with pytest.raises(BadToken):
        tokens.read_open(mirror_token)
    with pytest.raises(BadToken):
        tokens.read_click(open_token)
    click = token_of(urls.clicks[1]).split(".")
    click[3] = "2"  # link 1's MAC with link 2's index
    with pytest.raises(BadToken):
        tokens.read_click(".".join(click))


@pytest.mark.parametrize("kind", ["open", "mirror", "click"])
def test_altering_any_character_breaks_the_token(kind):
    urls = issued()
    token = token_of({"open": urls.open, "mirror": urls.mirror, "click": urls.clicks[3]}[kind])
    read = {"open": tokens.read_open, "mirror": tokens.read_mirror,
            "click": tokens.read_click}[kind]
    for position, char in enumerate(token):
        for replacement in {"0", "f", "a", ".", "z"} - {char}:
            altered = token[:position] + replacement + token[position + 1:]
            with pytest.raises(BadToken):
                read(altered)


def test_truncated_extended_and_empty_tokens_are_refused():
    token = token_of(issued().clicks[0])
    for bad in [token[:cut] for cut in range(len(token))] + [token + "0", "", "." * 40]:
        with pytest.raises(BadToken):
            tokens.read_click(bad)


def test_forged_tokens_are_refused():
    """Right shape, fields of the attacker's choosing, a MAC copied from a real token."""
    real = token_of(issued(row=1).clicks[0])
    mac = real.rsplit(".", 1)[1]
    for delivery, row, day, link in [(7, 2, tokens.today(), 0), (8, 1, tokens.today(), 0),
                                     (7, 1, tokens.today() + 1, 0), (7, 1, tokens.today(), 1)]:
        with pytest.raises(BadToken):
            tokens.read_click(f"{delivery:x}.{row:x}.{day:x}.{link:x}.{mac}")
    with pytest.raises(BadToken):
        tokens.read_click(f"7.1.{tokens.today():x}.0.{'0' * 20}")


def test_another_secret_key_makes_every_token_invalid(settings):
    token = token_of(issued().clicks[0])
    settings.SECRET_KEY = "another key entirely"
    with pytest.raises(BadToken):
        tokens.read_click(token)


def test_tokens_expire_after_the_configured_days(settings, monkeypatch):
    settings.ENVOI_TRACKING_DAYS = 30
    issue_day = tokens.today()
    token = token_of(issued(day=issue_day).clicks[0])
    monkeypatch.setattr(tokens, "today", lambda: issue_day + 30)
    assert tokens.read_click(token).day == issue_day
    monkeypatch.setattr(tokens, "today", lambda: issue_day + 31)
    with pytest.raises(BadToken, match="expired"):
        tokens.read_click(token)
    settings.ENVOI_TRACKING_DAYS = 400
    assert tokens.read_click(token).link_index == 0


def test_the_default_lifetime_is_400_days():
    old = token_of(issued(day=tokens.today() - 401).open)
    with pytest.raises(BadToken, match="expired"):
        tokens.read_open(old)
    assert tokens.read_open(token_of(issued(day=tokens.today() - 400).open))


def test_mirror_url_counts_its_lifetime_from_the_sending_day(settings):
    sent_at = datetime(2026, 1, 2, 23, 59, tzinfo=UTC)
    url = tokens.mirror_url(7, 99, sent_at)
    assert url.startswith(f"{settings.ENVOI_BASE_URL}/m/")
    ref_day = int(url.rsplit("/", 1)[1].split(".")[2], 16)
    assert ref_day == tokens.day_of(sent_at)
    assert tokens.read_mirror(token_of(tokens.mirror_url(7, 99, None))).row_id == 99


def test_purpose_tokens_still_sign_return_paths_and_unsubscribe_links():
    assert tokens.row_of_return_path(tokens.return_path(42)) == 42
    token = tokens.unsubscribe_url(42).rsplit("/", 1)[1]
    assert tokens.unsign("unsubscribe", token) == (42,)
    with pytest.raises(BadToken):
        tokens.unsign("bounce", token)


def test_a_link_field_with_leading_zeros_is_refused():
    token = token_of(issued().clicks[1])
    delivery, row, day, link, mac = token.split(".")
    assert tokens.read_click(token).link_index == 1
    with pytest.raises(BadToken):
        tokens.read_click(".".join([delivery, row, day, "0" + link, mac]))


def test_tokens_are_the_documented_hmac_sha256_so_issued_ones_stay_valid(settings):
    """Written out with the one-shot ``hmac.digest``: a change in how the MAC is computed
    must not change a single token already in a mailbox."""
    import base64
    import hashlib
    import hmac

    secret = settings.SECRET_KEY.encode()
    token_key = hashlib.sha256(b"envoi-token:" + secret).digest()
    for row in (42, *range(1, 50_000, 997)):
        payload = tokens.sign("bounce", row).split(".")[0]
        mac = base64.b32encode(hmac.digest(token_key, f"bounce:{payload}".encode(), "sha256")[:15])
        assert tokens.return_path(row) == (
            f"b-{payload}.{mac.decode()[:20].lower()}@{settings.ENVOI_BOUNCE_DOMAIN}")
    assert tokens.return_path(42).startswith("b-16.")

    tracking_key = hashlib.sha256(b"envoi-tracking:" + secret).digest()
    message_key = hmac.digest(tracking_key, b"7.1e240.5000.", "sha256")
    stream = hashlib.shake_128(message_key + b"slots").digest(3 * tokens.MAC_BYTES)
    urls = MessageTokens(7, 123_456, day=0x5000).urls(BASE, 1)
    assert urls.open == f"{BASE}/o/7.1e240.5000.{stream[:10].hex()}"
    assert urls.clicks == [f"{BASE}/c/7.1e240.5000.0.{stream[20:].hex()}"]
