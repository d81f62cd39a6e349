"""Sign-in throttling, per account name and per client address.

The counters live in the database because that is the only thing the web processes of
every host share. Each account and each address gets a number of free failures; every
failure past them makes the next attempt wait twice as long as the last one did, up to
a ceiling. While an account or an address waits, its attempts are refused at once,
without looking at the password, so a right guess cannot be told from a wrong one. A
counter is forgotten an hour after its last failure; a successful sign-in forgets the
account's counter but not the address's (one valid account must not unlock guessing at
the others from the same place).
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.http import HttpRequest

from envoi import clock
from envoi.accounts.models import AuditEntry, LoginCounter

FORGET_AFTER = timedelta(hours=1)
KEY_LENGTH = LoginCounter._meta.get_field("key").max_length or 150


class LoginThrottled(Exception):
    """Too many failed sign-ins: wait ``seconds`` before the next attempt."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        super().__init__(f"Too many failed sign-ins. Wait {seconds} seconds and try again.")


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or the last address of the header a
    trusted reverse proxy appends (``ENVOI_CLIENT_IP_HEADER``)."""
    if request is None:
        return None
    header = settings.ENVOI_CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:KEY_LENGTH]
    return (request.META.get("REMOTE_ADDR") or "")[:KEY_LENGTH] or None


def _keys(username: str, address: str | None) -> list[tuple[str, str, int]]:
    keys = [(LoginCounter.ACCOUNT, username[:KEY_LENGTH], settings.ENVOI_LOGIN_FREE_FAILURES)]
    if address:
        keys.append((LoginCounter.ADDRESS, address,
                     settings.ENVOI_LOGIN_ADDRESS_FREE_FAILURES))
    return keys


def seconds_to_wait(username: str, address: str | None) -> int:
    """How long this account name or this address must still wait (0: not at all)."""
    now = clock.now()
    matching = Q()
    for scope, key, _free in _keys(username, address):
        matching |= Q(scope=scope, key=key)
    until = LoginCounter.objects.filter(matching, blocked_until__gt=now).aggregate(
        until=Max("blocked_until"))["until"]
    return 0 if until is None else max(1, math.ceil((until - now).total_seconds()))


def check(username: str, address: str | None) -> None:
    """Refuse (and audit) an attempt made while the account or the address waits."""
    wait = seconds_to_wait(username, address)
    if wait:
        audit_failure(username, address, "throttled", wait_seconds=wait)
        raise LoginThrottled(wait)


def record_failure(username: str, address: str | None) -> None:
    now = clock.now()
    for scope, key, free in _keys(username, address):
        _count(scope, key, free, now)
    LoginCounter.objects.filter(last_failure_at__lt=now - FORGET_AFTER).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=now)).delete()


def record_success(username: str) -> None:
    LoginCounter.objects.filter(scope=LoginCounter.ACCOUNT,
                                key=username[:KEY_LENGTH]).delete()


@transaction.atomic
def _count(scope: str, key: str, free: int, now) -> None:
    counter = _locked_counter(scope, key, now)
    if counter.last_failure_at < now - FORGET_AFTER:
        counter.failures = 0
    counter.failures += 1
    counter.last_failure_at = now
    beyond = counter.failures - free
    if beyond > 0:
        wait = min(settings.ENVOI_LOGIN_MAX_WAIT_SECONDS, 2 ** min(beyond - 1, 30))
        counter.blocked_until = now + timedelta(seconds=wait)
    counter.save()


def _locked_counter(scope: str, key: str, now) -> LoginCounter:
    """The counter row, locked until the transaction ends (two processes counting the
    same failure at once both count)."""
    found = LoginCounter.objects.select_for_update().filter(scope=scope, key=key).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return LoginCounter.objects.create(scope=scope, key=key, last_failure_at=now)
    except IntegrityError:  # another process created it first
        return LoginCounter.objects.select_for_update().get(scope=scope, key=key)


def audit_failure(username: str, address: str | None, reason: str, **detail) -> None:
    """A failed or refused sign-in, in the audit log: who was tried, from where, why.
    Never the password."""
    AuditEntry.objects.create(action="login.failed", allowed=False, detail={
        "username": username[:KEY_LENGTH], "address": address, "reason": reason, **detail})
