"""Short signed links for SMS (``/s/<token>``): every character of an SMS counts
against its parts, so a tracked link there must be short.

A token names one link of one message: the sending-log row and the link's index,
each as a variable-length integer (7 bits a byte), followed by a 48-bit HMAC-SHA256
of those bytes (keyed from ``SECRET_KEY`` with its own label, so no other token of
Envoi is worth anything here), the whole in URL-safe base64 without padding. Row
1,000,000's first link is 14 characters; row 2^28's is 15. The delivery is not in
the token: the row names it, and the redirect reads the row anyway.

Forging a token takes 2^47 guesses on average for one (row, link), each an HTTP
request: years at any request rate a server answers. The token carries no date;
it expires ``ENVOI_TRACKING_DAYS`` after its row was sent, as email's links do
after their issue day (:func:`envoi.tracking.tokens._refuse_expired`).

The alphabet (letters, digits, ``-`` and ``_``) is all in GSM 03.38's basic table,
so a short link never forces UCS-2 and costs one unit a character.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from django.conf import settings

from envoi.tracking.tokens import MAX_LINKS, BadToken, MessageRef, day_of, today

MAC_BYTES = 6
PATH = "/s/"


@lru_cache(maxsize=4)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(hashlib.sha256(b"envoi-short:" + secret.encode()).digest(),
                    digestmod="sha256")


def _mac(payload: bytes) -> bytes:
    state = _keyed(settings.SECRET_KEY).copy()
    state.update(payload)
    return state.digest()[:MAC_BYTES]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, low = value >> 7, value & 0x7F
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _read_varints(payload: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in payload:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise BadToken("malformed token")
        if not byte & 0x80:
            values.append(value)
            value, shift = 0, 0
    if shift:
        raise BadToken("malformed token")
    return values


def short_token(row_id: int, link_index: int) -> str:
    if row_id < 0 or not 0 <= link_index < MAX_LINKS:
        raise ValueError("a short link names a sending-log row and a link index")
    payload = _varint(row_id) + _varint(link_index)
    return base64.urlsafe_b64encode(payload + _mac(payload)).rstrip(b"=").decode("ascii")


def short_url(row_id: int, link_index: int, base: str | None = None) -> str:
    return f"{base or settings.ENVOI_BASE_URL}{PATH}{short_token(row_id, link_index)}"


def read_short(token: str) -> tuple[int, int]:
    """(row id, link index) of a token; :class:`BadToken` if it was not issued."""
    token = token or ""
    if not 10 <= len(token) <= 32 or not token.isascii():
        raise BadToken("malformed token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as error:
        raise BadToken("malformed token") from error
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(payload)):
        raise BadToken("invalid signature")
    values = _read_varints(payload)
    # Canonical only: one (row, link) has exactly one token.
    if len(values) != 2 or values[1] >= MAX_LINKS or short_token(*values) != token:
        raise BadToken("malformed token")
    return values[0], values[1]


def length(base: str | None = None, row_id: int = 10**7) -> int:
    """How long a short link is (for a row id this large): what preparation's count
    and the console's counter budget for each link."""
    return len(short_url(row_id, 0, base))


def message_ref(token: str) -> MessageRef:
    """What a short link names, as a click token would: its delivery comes from the
    row. :class:`BadToken` for a forged token, a row that no longer exists, or a link
    older than ``ENVOI_TRACKING_DAYS``."""
    from envoi.sending.models import SendingLog

    row_id, link_index = read_short(token)
    row = SendingLog.objects.filter(pk=row_id).values("delivery_id", "sent_at").first()
    if row is None:
        raise BadToken("unknown message")
    day = day_of(row["sent_at"]) if row["sent_at"] is not None else today()
    if today() - day > settings.ENVOI_TRACKING_DAYS:
        raise BadToken("expired token")
    return MessageRef(row["delivery_id"], row_id, day, link_index)
