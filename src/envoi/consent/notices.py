"""Consent notices of Korean advertising (정보통신망법 §50 ⑦ ⑧, issue 19): a periodic job
mails each person

* a **reconfirmation** every two years after they consented to advertising, stating
  the date they consented and how to withdraw (a signed link to the preference
  centre), and
* the **result** of each opt-in and opt-out, within 14 days of the change,

on the channel of the consent: an email consent by email, an SMS consent by SMS to the
profile's phone (:mod:`envoi.consent.notice_transport`; SMS notices wait until
``ENVOI_SMPP_URL`` and ``ENVOI_CONSENT_NOTICE_SMS_FROM`` are set).

Which consents. The marketing consents of the installation, when notices are on:
``ENVOI_CONSENT_NOTICES`` is ``auto`` (the default: on once ``kr_advertising`` is in
``ENVOI_DEFAULT_TYPOLOGY`` or any delivery names it), ``1`` or ``0``. Two kinds of change
get no result notice: a consent recorded by an **import** (it was collected, and its
result told, by the system it came from; notifying a whole imported base would be a
mass mailing), and a move that changed nothing (a grant of a consent already given).
A double opt-in's **confirmation** does get one: the confirmation mail goes out before
the person consents, so it cannot tell the result, and the page shown after the click
is no record the person keeps.

The ledger. Each notice is a :class:`ConsentNotice` row, unique per (consent, kind,
period), inserted and *committed before* the relay is asked. A crash after that leaves
the row ``sending``: it is never sent again (nothing twice) and the compliance page
counts it as failed. A relay's refusal, or no relay reachable, marks it ``failed``,
tried again at later runs up to :data:`MAX_ATTEMPTS` times (the relay did not take it,
so a new attempt cannot duplicate it); a connection cut after the message was handed
over, or an SMSC that never answered, is not. A failure for one profile is recorded
and logged, and the run goes on with the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce

from envoi import clock
from envoi.accounts.services import audit
from envoi.audiences.models import Profile
from envoi.consent import notice_sms
from envoi.consent.models import (
    Channel,
    Consent,
    ConsentEvent,
    ConsentNotice,
    ConsentStatus,
    NoticeKind,
    NoticeStatus,
    Purpose,
    Source,
)
from envoi.consent.notice_transport import Sent, Transports

log = logging.getLogger("envoi.consent.notices")

RECONFIRM_YEARS = 2
RESULT_WITHIN = timedelta(days=14)
# Changes older than this are no longer picked up (the page shows them as overdue).
RESULT_LOOKBACK = timedelta(days=60)
MAX_ATTEMPTS = 3
BATCH = 500  # notices per run: a run holds the periodic-jobs lock, so it stays short
INTERVAL = timedelta(hours=1)
# A notice still "sending" this long after its claim was cut off by a crash.
INTERRUPTED_AFTER = timedelta(minutes=30)
RESULT_KINDS = {ConsentStatus.GRANTED: NoticeKind.GRANTED,
                ConsentStatus.WITHDRAWN: NoticeKind.WITHDRAWN}
ADDRESS: dict[str, str] = {Channel.EMAIL: "email", Channel.SMS: "phone"}  # its profile field


@dataclass(frozen=True)
class Due:
    """One notice owed: about which consent, what, for which period, due when."""

    consent_id: int
    profile_id: int
    channel: str
    kind: str
    period: str
    due_at: datetime
    consented_at: datetime  # the date the notice states


def enabled() -> bool:
    mode = settings.ENVOI_CONSENT_NOTICES.strip().lower()
    if mode in ("1", "on", "true", "yes"):
        return True
    if mode in ("0", "off", "false", "no"):
        return False
    from envoi.deliveries.models import Delivery
    from envoi.preparation.rules import default_typology

    return ("kr_advertising" in default_typology()
            or Delivery.objects.filter(typology__icontains="kr_advertising").exists())


# -- what is owed -------------------------------------------------------------------------

def add_years(moment: datetime, years: int) -> datetime:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def sending_channels() -> list[str]:
    """The channels notices go out on now: email, and SMS once an SMSC and a sender
    are set."""
    return [Channel.EMAIL, *([Channel.SMS] if notice_sms.enabled() else [])]


def _addressed(channels: Iterable[str], prefix: str = "") -> Q:
    """Consents on ``channels`` whose profile has that channel's address."""
    found = Q(pk__in=[])
    for channel in channels:
        found |= (Q(**{f"{prefix}channel": channel})
                  & ~Q(**{f"{prefix}profile__{ADDRESS[channel]}": ""}))
    return found


def _finished(consent: OuterRef, kinds: list[str], **where: object) -> Exists:
    """A notice of ``kinds`` that needs no further attempt (sent, in flight, or given
    up) about the outer query's ``consent``."""
    return Exists(ConsentNotice.objects.filter(consent_id=consent, kind__in=kinds, **where)
                  .exclude(status=NoticeStatus.FAILED, attempts__lt=MAX_ATTEMPTS))


def reconfirmations_due(now: datetime, channels: Iterable[str],
                        limit: int | None = BATCH) -> list[Due]:
    """Granted consents on ``channels`` whose last two-year cycle has no
    reconfirmation yet.

    The consent date is the last time it was given (a renewed consent starts a new
    cycle); cycle ``n`` falls due ``2n`` years after it. For a granted consent it is
    ``updated_at``: the last move of a granted consent is the grant (or confirmation)
    itself, written with its event at the same instant, so no events are read here."""
    consents = (Consent.objects.filter(_addressed(channels), purpose=Purpose.MARKETING,
                                       status=ConsentStatus.GRANTED,
                                       updated_at__lte=add_years(now, -RECONFIRM_YEARS))
                .annotate(consented_at=F("updated_at"))
                .exclude(_finished(OuterRef("pk"), [NoticeKind.RECONFIRM],
                                   due_at__gt=add_years(now, -RECONFIRM_YEARS)))
                .order_by("updated_at", "pk"))
    owed = []
    for consent in consents[:limit] if limit else consents:
        cycle = 1
        while add_years(consent.consented_at, RECONFIRM_YEARS * (cycle + 1)) <= now:
            cycle += 1
        owed.append(Due(consent.pk, consent.profile_id, consent.channel,
                        NoticeKind.RECONFIRM,
                        f"{consent.consented_at:%Y-%m-%dT%H:%M:%S}#{cycle}",
                        add_years(consent.consented_at, RECONFIRM_YEARS * cycle),
                        consent.consented_at))
    return owed


def results_due(now: datetime, channels: Iterable[str],
                limit: int | None = BATCH) -> list[Due]:
    """Opt-ins and opt-outs on ``channels`` of the last :data:`RESULT_LOOKBACK` not yet
    told."""
    previous = (ConsentEvent.objects.filter(consent_id=OuterRef("consent_id"),
                                            id__lt=OuterRef("id"))
                .order_by("-id").values("status")[:1])
    events = (ConsentEvent.objects
              .filter(_addressed(channels, "consent__"), consent__purpose=Purpose.MARKETING,
                      status__in=list(RESULT_KINDS), at__gte=now - RESULT_LOOKBACK,
                      at__lte=now)
              .exclude(source=Source.IMPORT)
              .annotate(before=Coalesce(Subquery(previous), Value("")),
                        period_key=Cast("id", CharField()))
              .exclude(before=F("status"))
              .exclude(_finished(OuterRef("consent_id"), list(RESULT_KINDS.values()),
                                 period=OuterRef("period_key")))
              .select_related("consent").order_by("at", "id"))
    owed = []
    for event in events[:limit] if limit else events:
        owed.append(Due(event.consent_id, event.consent.profile_id, event.consent.channel,
                        RESULT_KINDS[ConsentStatus(event.status)], str(event.pk),
                        event.at, event.at))
    return owed


# -- sending ------------------------------------------------------------------------------

def run(now: datetime) -> dict[str, int]:
    """The periodic job: send every notice owed (at most :data:`BATCH` of each kind)."""
    if not enabled():
        return {}
    counts: dict[str, int] = {NoticeStatus.SENT: 0, NoticeStatus.FAILED: 0}
    channels = sending_channels()
    owed = reconfirmations_due(now, channels) + results_due(now, channels)
    if not owed:
        return counts
    transports = Transports()
    try:
        for due in owed:
            status = send_notice(due, transports, now)
            if status in counts:
                counts[status] += 1
    finally:
        transports.close()
    return counts


def send_notice(due: Due, transports: Transports, now: datetime) -> str | None:
    """Claim, send and record one notice; its final status (None: another run has it)."""
    notice = claim(due, now)
    if notice is None:
        return None
    try:
        profile = Profile.objects.get(pk=due.profile_id)
        sent = transports.deliver(due.channel, profile, due.kind, due.consented_at)
    except Exception as error:  # one profile's failure never stops the others
        log.exception("consent notice %s of profile %s failed", due.kind, due.profile_id)
        sent = Sent(False, f"error: {error}", "")
    status = NoticeStatus.SENT if sent.ok else NoticeStatus.FAILED
    ConsentNotice.objects.filter(pk=notice.pk).update(
        status=status, sent_at=clock.now() if sent.ok else None, reply=sent.reply[:300],
        language=sent.language, attempts=MAX_ATTEMPTS if sent.final else F("attempts"))
    audit(None, "consent.notice", profile=due.profile_id, channel=due.channel,
          kind=due.kind, outcome=status, reply=sent.reply[:120])
    return status


def claim(due: Due, now: datetime) -> ConsentNotice | None:
    """The ledger row of ``due``, committed as ``sending`` before anything is sent: a
    new row, or a failed one with attempts left. None when it is not ours to send."""
    try:
        with transaction.atomic():
            return ConsentNotice.objects.create(
                consent_id=due.consent_id, kind=due.kind, period=due.period,
                status=NoticeStatus.SENDING, due_at=due.due_at, claimed_at=now)
    except IntegrityError:
        pass
    retried = ConsentNotice.objects.filter(
        consent_id=due.consent_id, kind=due.kind, period=due.period,
        status=NoticeStatus.FAILED, attempts__lt=MAX_ATTEMPTS).update(
        status=NoticeStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not retried:
        return None
    return ConsentNotice.objects.get(consent_id=due.consent_id, kind=due.kind,
                                     period=due.period)


# -- reading ------------------------------------------------------------------------------

def notices_of(profile: Profile) -> list[ConsentNotice]:
    """The profile's notices, newest first (its page in the console, its export)."""
    return list(ConsentNotice.objects.filter(consent__profile_id=profile.pk)
                .select_related("consent").order_by("-due_at", "-id"))


def is_interrupted(notice: ConsentNotice, now: datetime) -> bool:
    return (notice.status == NoticeStatus.SENDING
            and notice.claimed_at < now - INTERRUPTED_AFTER)


def iter_owed(now: datetime) -> Iterator[Due]:
    """Every notice owed now on every channel, unbounded (the compliance page counts
    them, including SMS notices waiting for an SMSC)."""
    yield from reconfirmations_due(now, Channel.values, limit=None)
    yield from results_due(now, Channel.values, limit=None)
