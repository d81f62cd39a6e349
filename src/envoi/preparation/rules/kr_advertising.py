"""``kr_advertising``: Korean advertising messages (정보통신망법 §50).

The subject (an SMS: its text) starts with exactly "(광고)"; the body names the sender
and how to reach them (the brand's name and contact, :func:`envoi.consent.brand.brand`),
and says in Korean how to refuse further messages (수신거부), by a link for email and by
a free 080 number for SMS (ENVOI_KR_OPT_OUT_NUMBER).

Advertising may not arrive between 21:00 and 08:00 in the recipient's time zone unless
the person agreed to advertising at night (a consent of its own, purpose ``night``): each
other row's due time (as in the recipient's-time-zone mode) is moved to the next 08:00
there, and a consenting profile's row keeps the time it would have had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from envoi import clock
from envoi.consent.brand import brand
from envoi.consent.sql import night_consent_condition
from envoi.deliveries import scheduling
from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, Finding
from envoi.preparation.rules import body_text, uses
from envoi.preparation.targeting import HeldRowTime

QUIET_START, QUIET_END = time(21), time(8)
PREFIX = "(광고)"
OPT_OUT_WORD = "수신거부"


def findings(delivery: Delivery) -> Iterator[Finding]:
    yield from prefix(delivery)
    yield from sender_details(delivery)
    yield from opt_out(delivery)


def prefix(delivery: Delivery) -> Iterator[Finding]:
    field = "text_body" if delivery.channel == Delivery.SMS else "subject"
    value = getattr(delivery, field)
    if not value.startswith(PREFIX):
        yield Finding(ERROR, "kr_advertising.prefix",
                      _("Korean advertising: the SMS text must start with exactly "
                        "\"(광고)\".") if field == "text_body" else
                      _("Korean advertising: the subject must start with exactly "
                        "\"(광고)\"."), field)


def sender_details(delivery: Delivery) -> Iterator[Finding]:
    body, sender = body_text(delivery), brand()
    missing = [label for label, value in (
        (_("the sender's name (Administration → Brand, or ENVOI_BRAND_NAME)"),
         sender.name),
        (_("the sender's contact details (Administration → Brand, or "
           "ENVOI_BRAND_CONTACT)"), sender.contact),
    ) if not value.strip() or value.strip() not in body]
    if missing:
        yield Finding(ERROR, "kr_advertising.sender",
                      _("Korean advertising: the message must carry %(missing)s.")
                      % {"missing": "; ".join(missing)}, _body_field(delivery))


def opt_out(delivery: Delivery) -> Iterator[Finding]:
    body = body_text(delivery)
    if delivery.channel == Delivery.SMS:
        number = settings.ENVOI_KR_OPT_OUT_NUMBER.strip()
        if not number.startswith("080"):
            yield Finding(ERROR, "kr_advertising.opt_out_number",
                          _("Korean advertising SMS: set ENVOI_KR_OPT_OUT_NUMBER to a free "
                            "080 number for refusals."), "text_body")
        elif number not in body or OPT_OUT_WORD not in body:
            yield Finding(ERROR, "kr_advertising.opt_out",
                          _("Korean advertising SMS: the text must offer refusal in Korean "
                            "with the free number, e.g. \"무료수신거부 %(number)s\".")
                          % {"number": number}, "text_body")
        return
    if OPT_OUT_WORD not in body or not uses(delivery, "unsubscribe_url"):
        yield Finding(ERROR, "kr_advertising.opt_out",
                      _("Korean advertising: the body must say in Korean how to refuse "
                        "(수신거부) with the {{ unsubscribe_url }} link."),
                      _body_field(delivery))


def _body_field(delivery: Delivery) -> str:
    if delivery.channel == Delivery.SMS:
        return "text_body"
    return "html_body" if delivery.html_body.strip() else "text_body"


def night_hold(delivery: Delivery, row_time: Callable[[str], datetime] | None,
               contact_date: datetime | None) -> HeldRowTime:
    """Each time zone's due instant, held out of 21:00-08:00 there, except for the
    profiles with night-time consent on the delivery's channel. Without the
    recipient's-time-zone mode every zone starts from the contact date (or now)."""
    home = scheduling.zone(delivery.time_zone)

    def awake(zone_name: str) -> datetime:
        return row_time(zone_name) if row_time else (contact_date or clock.now())

    def held(zone_name: str) -> datetime:
        return held_until_morning(awake(zone_name), scheduling.zone_or(zone_name, home))

    exempt, params = night_consent_condition(delivery.channel)
    return HeldRowTime(held, awake, exempt, params)


def held_until_morning(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant``, or the next 08:00 in ``tz`` when it falls in the quiet hours there."""
    wall = scheduling.wall_clock(instant, tz)
    if QUIET_END <= wall.time() < QUIET_START:
        return instant
    morning = wall.replace(hour=QUIET_END.hour, minute=0, second=0, microsecond=0)
    if wall.time() >= QUIET_START:
        morning += timedelta(days=1)
    return scheduling.localize(morning, tz)
