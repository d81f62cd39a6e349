"""Compact signed tokens for links and return paths.

A token is ``<values in base 36>.<HMAC-SHA256, 100 bits, base32>``; the purpose is part
of the MAC, so an unsubscribe token is useless as anything else. Nothing in a token is
secret, only unforgeable. Tokens use lower-case letters and digits only, because some
mail systems lower-case the local part of the return path a bounce comes back to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import lru_cache

from django.conf import settings

_TOKEN = re.compile(r"^[0-9a-z]{1,13}(\.[0-9a-z]{1,13})*\.[a-z2-7]{20}$")


class BadToken(ValueError):
    """A token that was altered, truncated or never issued."""


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"envoi-token:" + secret.encode()).digest()


def _mac(purpose: str, payload: str) -> str:
    key = _key(settings.SECRET_KEY)
    digest = hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode()[:20].lower()


def _base36(value: int) -> str:
    if value < 0:
        raise ValueError("token values are non-negative")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out


def sign(purpose: str, *values: int) -> str:
    payload = ".".join(_base36(v) for v in values)
    return f"{payload}.{_mac(purpose, payload)}"


def unsign(purpose: str, token: str) -> tuple[int, ...]:
    token = (token or "").lower()
    if not _TOKEN.match(token):
        raise BadToken("malformed token")
    payload, _, mac = token.rpartition(".")
    if not hmac.compare_digest(mac, _mac(purpose, payload)):
        raise BadToken("invalid signature")
    return tuple(int(part, 36) for part in payload.split("."))


def return_path(row_id: int) -> str:
    """Per-recipient envelope sender: a bounce to it names its sending-log row."""
    return f"b-{sign('bounce', row_id)}@{settings.ENVOI_BOUNCE_DOMAIN}"


def row_of_return_path(address: str) -> int:
    local = address.partition("@")[0].lower()
    if not local.startswith("b-"):
        raise BadToken("not an Envoi return path")
    (row_id,) = unsign("bounce", local[2:])
    return row_id


def unsubscribe_url(row_id: int) -> str:
    return f"{settings.ENVOI_BASE_URL}/u/{sign('unsubscribe', row_id)}"
