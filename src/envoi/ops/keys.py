"""A fingerprint of ``ENVOI_SECRET_KEY`` that can be shown and compared, never reversed."""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.conf import settings


@functools.cache
def key_fingerprint() -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), b"envoi key fingerprint", hashlib.sha256)
    return digest.hexdigest()[:16]
