"""Limits on the subscription form: posts per client address, and confirmation mails
per email address, each per clock hour.

A bot that passes the form's honeypot and timing checks can still post the form in a
loop, from one address, to mail-bomb a stranger with confirmations or to fill the
profile table. Two counters stop it:

* ``ENVOI_SUBSCRIBE_RATE`` posts of the form (hosted or embedded) per client address
  per hour (default 20; 0 turns the limit off). A shared office behind one address
  stays well under it.
* ``ENVOI_SUBSCRIBE_ADDRESS_RATE`` confirmation mails to one email address per hour
  (default 3), whoever asks, known address or not.

The counters live in the database (:class:`~envoi.consent.models.RateCounter`), the one
thing every ``envoi serve`` process shares. Each is one row per key and hour, raised by
a single ``UPDATE … SET count = count + 1``: two processes counting at once wait on the
row's lock, so each reads its own count and the limit holds exactly. Windows are clock
hours (a burst straddling the hour gets at most twice the limit, a fair price for one
row per key). The keys are HMACs keyed by the secret key, so the table holds neither
email addresses nor IP addresses, and an erased person's address is not in it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.crypto import salted_hmac

from envoi import clock
from envoi.consent.models import RateCounter

WINDOW = timedelta(hours=1)


class RateLimited(Exception):
    """Over a limit: nothing was done; try again in ``retry_after`` seconds."""

    def __init__(self, scope: str, retry_after: int):
        self.scope = scope  # "client" or "address"
        self.retry_after = retry_after
        super().__init__(f"too many subscription requests ({scope}); "
                         f"retry in {retry_after} s")


def _key(scope: str, value: str) -> str:
    return salted_hmac(f"envoi.consent.ratelimit.{scope}", value.strip().lower(),
                       algorithm="sha256").hexdigest()


def _window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def take(scope: str, value: str, limit: int) -> None:
    """Count one use of ``value`` in ``scope``; :class:`RateLimited` past ``limit`` (a
    limit of 0 or less counts nothing and refuses nothing)."""
    if limit <= 0 or not value:
        return
    now = clock.now()
    window = _window(now)
    key = _key(scope, value)
    with transaction.atomic():
        raised = RateCounter.objects.filter(key=key, window=window).update(
            count=F("count") + 1)
        if not raised:
            _first_of_the_hour(key, window)
        count = RateCounter.objects.get(key=key, window=window).count
    if count > limit:
        wait = math.ceil((window + WINDOW - now).total_seconds())
        raise RateLimited(scope, max(1, wait))


def _first_of_the_hour(key: str, window: datetime) -> None:
    try:
        with transaction.atomic():
            RateCounter.objects.create(key=key, window=window, count=1)
    except IntegrityError:  # another process made the row first: count on it
        RateCounter.objects.filter(key=key, window=window).update(count=F("count") + 1)
        return
    # Once per key and hour, forget the hours that are over.
    RateCounter.objects.filter(window__lt=window).delete()


def take_client(address: str | None) -> None:
    take("client", address or "", settings.ENVOI_SUBSCRIBE_RATE)


def take_recipient(email: str) -> None:
    take("address", email, settings.ENVOI_SUBSCRIBE_ADDRESS_RATE)
