"""Recipient-facing actions reached through signed links, and the links they may reach.

A click redirects only to a ``TrackedLink`` of the delivery its token names — the link
as the message contained it — so a valid token can lead nowhere else, and an invalid
one raises :class:`tokens.BadToken` before anything is looked up.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import transaction
from django.utils.encoding import iri_to_uri
from liquid import BoundTemplate
from liquid.exceptions import LiquidError

from envoi import clock
from envoi.accounts.services import audit
from envoi.audiences.models import Profile
from envoi.consent import services as consent
from envoi.deliveries.content import environment
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from envoi.sending.render import profile_context
from envoi.tracking import buffer, links, tokens
from envoi.tracking.models import EventKind, TrackedLink

PROFILE_VALUES = ("id", "email", "phone", "first_name", "last_name", "language", "timezone",
                  "attributes")


# -- the links of a delivery -------------------------------------------------------------

def store_tracked_links(delivery: Delivery) -> None:
    """Replace the delivery's tracked links with those of its HTML (at preparation)."""
    TrackedLink.objects.filter(delivery=delivery).delete()
    TrackedLink.objects.bulk_create(
        TrackedLink(delivery=delivery, index=link.index, url=link.url,
                    personalized=link.personalized)
        for link in links.tracked_links(delivery.html_body))
    _link_cache.forget(delivery.pk)


@dataclass(frozen=True)
class LinkTarget:
    """Where link ``index`` leads: ``url`` (HTML-unescaped), or ``template`` rendered
    for the recipient's profile when the link is personalized. ``location`` is ``url``
    as an HTTP header value (IRI to URI, as Django's redirects do it)."""

    url: str
    template: BoundTemplate | None = None

    @cached_property
    def location(self) -> bytes:
        return iri_to_uri(self.url).encode("ascii")


class _LinkCache:
    """Each delivery's links, kept by each process for :attr:`MAX_AGE` seconds: a click
    on a plain link then needs no database at all, and a busy delivery costs one query
    per process every ``MAX_AGE`` seconds.

    Links change only when a delivery is prepared again (before its messages leave) and
    disappear when it is deleted. The process that does either forgets them at once;
    every other process holds a copy at most ``MAX_AGE`` seconds old, and re-reads the
    links on its next click after that — so a deleted delivery's links stop redirecting
    everywhere within ``MAX_AGE``. A delivery with no links is never cached, so a click
    that comes before its links are stored cannot pin an empty answer."""

    MAX_DELIVERIES = 256
    MAX_AGE = 2.0  # seconds

    def __init__(self) -> None:
        self._links: dict[int, tuple[float, dict[int, LinkTarget]]] = {}
        self._lock = threading.Lock()

    def get(self, delivery_id: int) -> dict[int, LinkTarget] | None:
        """The links read less than ``MAX_AGE`` ago, else None (read them again)."""
        entry = self._links.get(delivery_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def load(self, delivery_id: int) -> dict[int, LinkTarget]:
        targets = {link.index: _target(link)
                   for link in TrackedLink.objects.filter(delivery_id=delivery_id)}
        with self._lock:
            self._links.pop(delivery_id, None)
            if targets:
                if len(self._links) >= self.MAX_DELIVERIES:
                    self._links.pop(next(iter(self._links)))
                self._links[delivery_id] = (time.monotonic() + self.MAX_AGE, targets)
        return targets

    def forget(self, delivery_id: int | None = None) -> None:
        with self._lock:
            if delivery_id is None:
                self._links.clear()
            else:
                self._links.pop(delivery_id, None)


def _target(link: TrackedLink) -> LinkTarget:
    if link.personalized:
        return LinkTarget(link.url, environment.from_string(link.url))
    return LinkTarget(html.unescape(link.url.strip()))


_link_cache = _LinkCache()
forget_links = _link_cache.forget


def cached_click_target(ref: tokens.MessageRef) -> LinkTarget | None:
    """The redirect target when it needs no database (a cached plain link), else None."""
    targets = _link_cache.get(ref.delivery_id)
    target = targets.get(_link_index(ref)) if targets is not None else None
    if target is None or target.template is not None:
        return None
    return target


def click_target(ref: tokens.MessageRef) -> str:
    """The URL link ``ref.link_index`` of that message leads to; BadToken if none."""
    targets = _link_cache.get(ref.delivery_id) or _link_cache.load(ref.delivery_id)
    target = targets.get(_link_index(ref))
    if target is None:
        raise tokens.BadToken("no such link")
    if target.template is None:
        return target.url
    try:
        rendered = target.template.render(**profile_context(_profile_of(ref)))
    except LiquidError as error:
        # This profile's values break the link (or it reached a render limit): the
        # recipient gets the invalid-link page, never a 500 or a redirect elsewhere.
        raise tokens.BadToken("personalized link cannot be rendered for this profile") \
            from error
    url = html.unescape(rendered).strip()
    if not links.is_web_url(url):
        raise tokens.BadToken("personalized link is not a web address for this profile")
    return url


def _link_index(ref: tokens.MessageRef) -> int:
    if ref.link_index is None:
        raise tokens.BadToken("not a click token")
    return ref.link_index


def _profile_of(ref: tokens.MessageRef) -> dict[str, Any]:
    row = SendingLog.objects.filter(pk=ref.row_id, delivery_id=ref.delivery_id).values(
        "profile_id").first()
    if row is None:
        raise tokens.BadToken("unknown message")
    return Profile.objects.filter(pk=row["profile_id"]).values(*PROFILE_VALUES).first() or {}


# -- the mirror page ---------------------------------------------------------------------

def mirror_page(ref: tokens.MessageRef) -> str:
    """The HTML of the message as this recipient received it (tracked links included)."""
    delivery = Delivery.objects.filter(pk=ref.delivery_id).first()
    if delivery is None:
        raise tokens.BadToken("unknown delivery")
    from envoi.sending.variants import VariantRenderer

    profile = _profile_of(ref)
    variant = SendingLog.objects.filter(pk=ref.row_id).values_list("variant", flat=True)
    renderer = VariantRenderer(delivery).for_variant(variant.first() or "")
    return renderer.mirror_html(ref.row_id, profile)


# -- unsubscribe -------------------------------------------------------------------------

@dataclass(frozen=True)
class UnsubscribeTarget:
    row_id: int
    delivery_id: int
    profile_id: int
    address: str
    variant: str = ""  # the language variant the message was sent in ('' the default)


def unsubscribe_target(token: str) -> UnsubscribeTarget:
    """The sending-log row a token names; :class:`tokens.BadToken` if it names none."""
    (row_id,) = tokens.unsign("unsubscribe", token)
    row = SendingLog.objects.filter(pk=row_id).values(
        "delivery_id", "profile_id", "address", "variant").first()
    if row is None:
        raise tokens.BadToken("unknown message")
    return UnsubscribeTarget(row_id, row["delivery_id"], row["profile_id"], row["address"],
                             row["variant"])


def message_variant(row_id: int) -> str:
    """The language variant a sending-log row was sent in ('' the default, or none)."""
    return SendingLog.objects.filter(pk=row_id).values_list("variant", flat=True).first() or ""


def profile_language(profile_id: int) -> str:
    """The profile's language, for the pages it reaches ("" when unknown)."""
    return Profile.objects.filter(pk=profile_id).values_list("language", flat=True).first() or ""


def unsubscribe(target: UnsubscribeTarget, one_click: bool, user_agent: str = "",
                ip: str | None = None, reason: str = "") -> None:
    """Withdraw the profile's email consent (SPEC §7, :mod:`envoi.consent`) and log an
    ``unsubscribe`` event. Idempotent; every request is audited and logged (engagement
    counts it once), and its reason counted for the delivery."""
    _opt_out(target, one_click, user_agent, ip, reason)
    buffer.record(buffer.Hit(EventKind.UNSUBSCRIBE, target.delivery_id, target.row_id,
                             clock.now(), user_agent=user_agent))


def log_unsubscribe(target: UnsubscribeTarget, user_agent: str = "") -> None:
    """Log an unsubscribe made on the preference centre (which withdrew the consent
    itself) as the link's are: audited, and an ``unsubscribe`` event, so that the
    delivery's KPIs and tracking log count it."""
    audit(None, "profile.unsubscribe", delivery_id=target.delivery_id,
          profile=target.profile_id, row=target.row_id, one_click=False,
          page="preferences")
    buffer.record(buffer.Hit(EventKind.UNSUBSCRIBE, target.delivery_id, target.row_id,
                             clock.now(), user_agent=user_agent))


@transaction.atomic
def _opt_out(target: UnsubscribeTarget, one_click: bool, user_agent: str, ip: str | None,
             reason: str) -> None:
    profile = Profile.objects.filter(pk=target.profile_id).first()
    if profile is not None:
        consent.withdraw_consent(profile, "email", consent.Evidence(
            consent.Source.LINK, ip=ip, user_agent=user_agent,
            wording="one-click unsubscribe" if one_click else "unsubscribe page"))
    consent.count_unsubscription(target.delivery_id, target.row_id, reason)
    audit(None, "profile.unsubscribe", delivery_id=target.delivery_id,
          profile=target.profile_id, row=target.row_id, one_click=one_click)
