"""Preparation (SPEC §3): control rules, then targeting, then the verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext_noop

from envoi import clock
from envoi.deliveries import lifecycle, scheduling
from envoi.deliveries.content import content_hash
from envoi.deliveries.models import Delivery, PreparationMessage
from envoi.preparation.control import ERROR, Finding
from envoi.preparation.models import ExclusionLog
from envoi.preparation.rules import market_findings
from envoi.preparation.targeting import HeldRowTime, RowTime, build_target
from envoi.sending.models import SendingLog
from envoi.words import Words, stored_words


def prepare_delivery(delivery: Delivery) -> Delivery:
    """Build the sending log of a delivery in Preparing and decide where it goes next."""
    from envoi.audiences.filters import FilterError
    from envoi.content.authoring import languages_of, refresh_compiled
    from envoi.content.links import store_links
    from envoi.deliveries.services import discard_preparation

    # MJML is compiled and every variant checked once, here: never per recipient.
    variants = refresh_compiled(delivery)
    channel = CHANNEL_CHECKS[delivery.channel]
    findings = channel.content(delivery, variants)
    findings += market_findings(delivery)
    if delivery.audience is None:
        findings.append(Finding(ERROR, "audience.missing",
                                Words(gettext_noop("The delivery has no audience.")),
                                "audience"))
    counts = None
    with transaction.atomic():
        discard_preparation(delivery)
        store_links(delivery, variants)
        if delivery.audience is not None:
            try:
                counts = build_target(delivery.pk, delivery.audience,
                                      row_time=_row_time(delivery),
                                      keep_rows=not delivery.is_recurring,
                                      languages=languages_of(delivery),
                                      require_consent=requires_consent(delivery),
                                      channel=delivery.channel)
            except FilterError as error:
                findings.append(Finding(ERROR, "audience.filter",
                                        Words(gettext_noop("Audience filter: %(error)s"),
                                              error=_filter_error(error)), "audience"))
        extra_findings, fields = channel.targeted(delivery, findings)
        findings += extra_findings
        _store_findings(delivery, findings)
    failed = any(f.level == ERROR for f in findings)
    fields.update(prepared_at=clock.now(), prepared_hash="" if failed else
                  content_hash(delivery))
    if counts is not None:
        fields.update(targeted=counts.targeted, to_deliver=counts.to_deliver,
                      exclusions=counts.exclusions, variant_counts=counts.variants,
                      start_at=counts.first_due or delivery.contact_date)
    if failed:
        move = "preparation_failed"
    else:
        move = "await_approval" if delivery.approval_required else "prepared"
    return lifecycle.apply(delivery, move, **fields)


@dataclass(frozen=True)
class ChannelChecks:
    """What preparation asks of a delivery's channel: its control rules, and what it
    adds once the sending log is built (findings, and fields for the delivery)."""

    content: Callable[[Delivery, list | None], list[Finding]]
    targeted: Callable[[Delivery, list[Finding]], tuple[list[Finding], dict[str, Any]]]


def draft_findings(delivery: Delivery) -> list[Finding]:
    """The content's findings as its channel checks them, for a draft being saved."""
    return CHANNEL_CHECKS[delivery.channel].content(delivery, None)


def _email_content(delivery: Delivery, variants: list | None) -> list[Finding]:
    from envoi.content.checks import content_findings

    return content_findings(delivery, variants)


def _sms_content(delivery: Delivery, variants: list | None) -> list[Finding]:
    from envoi.preparation import sms

    return sms.findings(delivery)


def _sms_targeted(delivery: Delivery, findings: list[Finding]
                  ) -> tuple[list[Finding], dict[str, Any]]:
    """The parts of every recipient's message, when the text renders at all."""
    from envoi.preparation import sms

    if any(f.level == ERROR and f.field == "text_body" for f in findings):
        return [], {"parts": {}}
    parts = sms.count_parts(delivery)
    return sms.parts_findings(delivery, parts), {"parts": parts.as_dict()}


CHANNEL_CHECKS = {
    "email": ChannelChecks(_email_content, lambda delivery, findings: ([], {})),
    "sms": ChannelChecks(_sms_content, _sms_targeted),
}


def extend_preparation(delivery: Delivery, contact_date: datetime) -> int:
    """Add the audience's newly qualifying profiles to a prepared delivery (a later run
    of an aggregation period, at ``contact_date``); returns how many were added. The
    exclusion log is replaced by this run's. Call inside a transaction."""
    assert delivery.audience is not None
    ExclusionLog.objects.filter(delivery=delivery).delete()
    from envoi.content.authoring import languages_of

    counts = build_target(delivery.pk, delivery.audience,
                          row_time=_row_time(delivery, contact_date), top_up=True,
                          languages=languages_of(delivery),
                          require_consent=requires_consent(delivery), channel=delivery.channel)
    per_variant = dict(SendingLog.objects.filter(delivery=delivery).order_by()
                       .values_list("variant").annotate(n=Count("*")))
    to_deliver = sum(per_variant.values())
    Delivery.objects.filter(pk=delivery.pk).update(
        to_deliver=to_deliver, targeted=to_deliver + sum(counts.exclusions.values()),
        exclusions=counts.exclusions, variant_counts=per_variant)
    delivery.refresh_from_db()
    return counts.to_deliver


def _row_time(delivery: Delivery, contact_date: datetime | None = None
              ) -> RowTime | HeldRowTime | None:
    """In the recipient's-time-zone mode, each profile's due instant: the contact date's
    wall-clock time in the profile's zone, or in the delivery's for profiles without one.
    Korean advertising is also held out of the night hours (envoi.preparation.rules)."""
    contact_date = contact_date or delivery.contact_date
    row_time = None
    if delivery.recipient_time_zone and contact_date:
        home = scheduling.zone(delivery.time_zone)
        wall = scheduling.wall_clock(contact_date, home)
        row_time = lambda name: scheduling.localize(  # noqa: E731
            wall, scheduling.zone_or(name, home))
    if "kr_advertising" in (delivery.typology or []):
        from envoi.preparation.rules.kr_advertising import night_hold

        return night_hold(delivery, row_time, contact_date)
    return row_time


def _filter_error(error: Any) -> Words:
    """An audience filter's error, located, as the sentence ``str(error)`` says."""
    return Words(gettext_noop("line %(line)s, column %(column)s: %(message)s"),
                 line=error.line, column=error.column, message=error.words)


def _store_findings(delivery: Delivery, findings: list[Finding]) -> None:
    """Each finding in English (the API's ``message``) and, when written as words, its
    template and values, for the console to say it in the reader's language."""
    PreparationMessage.objects.bulk_create(
        PreparationMessage(delivery=delivery, level=f.level, code=f.code, field=f.field,
                           message=str(f.message), words=stored_words(f.message),
                           line=f.line, column=f.column)
        for f in findings
    )


def requires_consent(delivery: Delivery) -> bool:
    """Only marketing messages need recorded consent; service messages do not."""
    return delivery.require_consent and delivery.is_marketing
