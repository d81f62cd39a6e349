"""Consent: the narrow API the rest of Envoi uses (SPEC §13).

* :func:`record_consent` — consent given (import, API, console, a confirmed form);
* :func:`request_consent` / :func:`confirm_consent` — the double opt-in of the form;
* :func:`withdraw_consent` — an unsubscribe, a channel opt-out, a console edit;
* :func:`has_consent` — may this profile be sent marketing on this channel now;
* :func:`night_consenting` — the profiles that agreed to advertising at night (Korea);
* :func:`consenting_profiles` — the ids of every profile that may, as a queryset;
* :func:`envoi.consent.sql.exclusion_cases` — the same rule inside preparation's SQL.

Every move keeps a :class:`ConsentEvent` with its source, time, IP address, browser
and the wording shown, so the proof outlives later moves. Consent and the profile's
opt-out flag agree: a withdrawal opts the profile out of the channel, and consent given
explicitly (form, API, console) opts it back in. An import never lifts an opt-out or an
erased address's suppression: only the person, or someone acting on their word, can.

Faces check permissions with :func:`give_consent` and :func:`take_back_consent`; the
core functions below them check nothing, for the recipient's own pages.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, QuerySet

from envoi import clock
from envoi.accounts.services import OPERATOR, Actor, audit, require
from envoi.audiences.models import AudienceMember, Profile
from envoi.consent import hashing, lifecycle
from envoi.consent.models import (
    Channel,
    Consent,
    ConsentEvent,
    ConsentStatus,
    Purpose,
    Source,
    Suppression,
    UnsubscribeReason,
    Unsubscription,
)

OPT_OUT_FIELD: dict[str, str] = {Channel.EMAIL: "email_opt_out", Channel.SMS: "sms_opt_out"}
ADDRESS_FIELD: dict[str, str] = {Channel.EMAIL: "email", Channel.SMS: "phone"}
EXPLICIT_SOURCES = frozenset({Source.FORM, Source.API, Source.CONSOLE, Source.LINK})


class ConsentError(ValueError):
    """A consent action refused for its input; the message names the field."""


@dataclass(frozen=True)
class Evidence:
    """How consent was given or taken back, as far as it is known."""

    source: str
    ip: str | None = None
    user_agent: str = ""
    wording: str = ""
    language: str = ""


def _check(channel: str, evidence: Evidence, purpose: str) -> None:
    if channel not in Channel.values:
        raise ConsentError(f"channel: {channel!r} is not one of {', '.join(Channel.values)}.")
    if purpose not in Purpose.values:
        raise ConsentError(f"purpose: {purpose!r} is not one of {', '.join(Purpose.values)}.")
    if evidence.source not in Source.values:
        raise ConsentError(f"source: {evidence.source!r} is not one of "
                           f"{', '.join(Source.values)}.")
    if evidence.ip:
        try:
            ipaddress.ip_address(evidence.ip)
        except ValueError as error:
            raise ConsentError(f"ip: {evidence.ip!r} is not an IP address.") from error


@transaction.atomic
def _move(profile: Profile, channel: str, move: str, evidence: Evidence,
          purpose: str = Purpose.MARKETING) -> Consent:
    _check(channel, evidence, purpose)
    consent, _ = Consent.objects.get_or_create(
        profile_id=profile.pk, channel=channel, purpose=purpose,
        defaults={"status": ConsentStatus.NONE, "updated_at": clock.now()})
    lifecycle.apply(consent, move, evidence.source)
    ConsentEvent.objects.create(
        consent=consent, move=move, status=consent.status, source=evidence.source,
        at=consent.updated_at, ip=evidence.ip or None, user_agent=evidence.user_agent[:500],
        wording=evidence.wording, language=evidence.language[:16])
    return consent


def record_consent(profile: Profile, channel: str, evidence: Evidence,
                   purpose: str = Purpose.MARKETING) -> Consent:
    """Consent given directly (not through a form's double opt-in). Night-time consent
    leaves the channel's opt-out as it is: it only widens marketing already allowed."""
    with transaction.atomic():
        consent = _move(profile, channel, "grant", evidence, purpose)
        if evidence.source in EXPLICIT_SOURCES and purpose == Purpose.MARKETING:
            _opt_in(profile, channel)
    return consent


def request_consent(profile: Profile, channel: str, evidence: Evidence) -> Consent:
    """A form asked for consent: pending until :func:`confirm_consent`. A profile that
    already consents stays granted (and the event is still kept)."""
    with transaction.atomic():
        current = Consent.objects.filter(profile_id=profile.pk, channel=channel,
                                         purpose=Purpose.MARKETING).first()
        if current is not None and current.status == ConsentStatus.GRANTED:
            return current
        return _move(profile, channel, "request", evidence)


def confirm_consent(profile: Profile, channel: str, evidence: Evidence) -> Consent:
    """The confirmation link was followed: consent is granted. Raises
    :class:`lifecycle.InvalidTransition` when it was withdrawn (or never asked) since."""
    with transaction.atomic():
        consent = _move(profile, channel, "confirm", evidence)
        _opt_in(profile, channel)
    return consent


def withdraw_consent(profile: Profile, channel: str, evidence: Evidence,
                     purpose: str = Purpose.MARKETING) -> Consent:
    """Consent taken back: marketing's opts the profile out of the channel at once;
    night-time consent's only ends sending at night."""
    with transaction.atomic():
        consent = _move(profile, channel, "withdraw", evidence, purpose)
        if purpose == Purpose.MARKETING:
            Profile.objects.filter(pk=profile.pk).update(**{OPT_OUT_FIELD[channel]: True})
    return consent


def _opt_in(profile: Profile, channel: str) -> None:
    """Explicit consent clears the channel's opt-out and its erased-address suppression."""
    Profile.objects.filter(pk=profile.pk).update(**{OPT_OUT_FIELD[channel]: False})
    address = getattr(profile, ADDRESS_FIELD[channel])
    if address:
        Suppression.objects.filter(channel=channel,
                                   address_hash=hashing.address_hash(address)).delete()


def has_consent(profile: Profile, channel: str) -> bool:
    """Whether ``profile`` consents to marketing on ``channel`` now (an erased address
    that came back consents only once it was given again explicitly)."""
    address = getattr(profile, ADDRESS_FIELD[channel])
    if address and Suppression.objects.filter(
            channel=channel, address_hash=hashing.address_hash(address)).exists():
        return False
    return consenting_profiles(channel).filter(pk=profile.pk).exists()


def consenting_profiles(channel: str) -> QuerySet[Profile]:
    """Every profile that consents to marketing on ``channel`` and has not opted out."""
    granted = Consent.objects.filter(channel=channel, purpose=Purpose.MARKETING,
                                     status=ConsentStatus.GRANTED)
    return Profile.objects.filter(pk__in=granted.values("profile_id"),
                                  **{OPT_OUT_FIELD[channel]: False})


def night_consenting(channel: str) -> QuerySet[Consent]:
    """The night-time advertising consents granted on ``channel`` (their profile ids
    are what the night hold of ``kr_advertising`` skips)."""
    return Consent.objects.filter(channel=channel, purpose=Purpose.NIGHT,
                                  status=ConsentStatus.GRANTED)


def consents_of(profile: Profile) -> list[dict]:
    """Each channel's and purpose's standing and its events, oldest first (API, console,
    export)."""
    standing = {(c.channel, c.purpose): c
                for c in Consent.objects.filter(profile_id=profile.pk)}
    events = ConsentEvent.objects.filter(consent__profile_id=profile.pk).select_related(
        "consent")
    history: dict[tuple[str, str], list[dict]] = {key: [] for key in standing}
    for event in events:
        history[(event.consent.channel, event.consent.purpose)].append({
            "move": event.move, "status": event.status, "source": event.source,
            "at": event.at, "ip": event.ip, "user_agent": event.user_agent,
            "wording": event.wording, "language": event.language})
    return [{"channel": channel, "purpose": purpose, "status": consent.status,
             "source": consent.source, "updated_at": consent.updated_at,
             "events": history[(channel, purpose)]}
            for (channel, purpose), consent in sorted(standing.items())]


def count_unsubscription(delivery_id: int, row_id: int, reason: str = "") -> None:
    """Count an unsubscribe from a message, once per message: the first reason given
    stays, and a later one replaces "none" (one-click first, then a reason on the page)."""
    reason = reason if reason in UnsubscribeReason.values else UnsubscribeReason.NONE
    existing = Unsubscription.objects.filter(row_id=row_id).first()
    if existing is None:
        Unsubscription.objects.create(delivery_id=delivery_id, row_id=row_id,
                                      reason=reason, at=clock.now())
    elif existing.reason == UnsubscribeReason.NONE and reason != UnsubscribeReason.NONE:
        Unsubscription.objects.filter(pk=existing.pk).update(reason=reason)


def unsubscribe_reasons(delivery_ids: list[int]) -> dict[int, dict[str, int]]:
    """How many unsubscribed from each delivery, per reason given (reasons nobody gave
    are left out). A recurring delivery counts its executions', summed, as its KPIs do.
    One query on the ``(delivery_id, reason)`` index, plus one for the executions."""
    from envoi.reporting.kpis import execution_ids

    counted_for: dict[int, list[int]] = {pk: [pk] for pk in delivery_ids}
    for parent, children in execution_ids(delivery_ids).items():
        for child in children:
            counted_for.setdefault(child, []).append(parent)
    counts: dict[int, dict[str, int]] = {pk: {} for pk in delivery_ids}
    rows = (Unsubscription.objects.filter(delivery_id__in=list(counted_for)).order_by()
            .values_list("delivery_id", "reason").annotate(n=Count("*")))
    for delivery_id, reason, n in rows:
        for owner in counted_for[delivery_id]:
            counts[owner][reason] = counts[owner].get(reason, 0) + n
    return counts


def reason_counts(delivery_id: int) -> dict[str, int]:
    """Every reason with its count for one delivery, zeros included (the API's KPIs)."""
    given = unsubscribe_reasons([delivery_id])[delivery_id]
    return {reason: given.get(reason, 0) for reason in UnsubscribeReason.values}


def profile_lists(profile: Profile) -> list[str]:
    """The names of the static lists the profile belongs to."""
    return list(AudienceMember.objects.filter(profile_id=profile.pk)
                .values_list("audience__name", flat=True).order_by("audience__name"))


# -- the faces' entry points: a permission, then the core move, audited -----------------

def _require(user: Actor, action: str) -> None:
    if user is not OPERATOR:
        require(user, action)


def give_consent(user: Actor, profile: Profile, channel: str, evidence: Evidence,
                 purpose: str = Purpose.MARKETING) -> Consent:
    """Record consent given on the person's word (console, API, CLI)."""
    _require(user, "consent.record")
    consent = record_consent(profile, channel, evidence, purpose)
    audit(user, "consent.grant", profile=profile.pk, channel=channel, purpose=purpose,
          source=evidence.source)
    return consent


def take_back_consent(user: Actor, profile: Profile, channel: str,
                      evidence: Evidence, purpose: str = Purpose.MARKETING) -> Consent:
    _require(user, "consent.record")
    consent = withdraw_consent(profile, channel, evidence, purpose)
    audit(user, "consent.withdraw", profile=profile.pk, channel=channel, purpose=purpose,
          source=evidence.source)
    return consent
