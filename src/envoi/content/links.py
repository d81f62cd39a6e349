"""The tracked links of every variant of a delivery, numbered one after the other."""

from __future__ import annotations

from envoi.content.authoring import Variant, sendable
from envoi.deliveries.models import Delivery
from envoi.tracking import links
from envoi.tracking.models import TrackedLink
from envoi.tracking.services import forget_links


def store_links(delivery: Delivery, variants: list[Variant]) -> None:
    """Replace the delivery's tracked links (at preparation): the default variant's
    first, then each language's, in the order :class:`VariantRenderer` numbers them."""
    TrackedLink.objects.filter(delivery=delivery).delete()
    rows: list[TrackedLink] = []
    if delivery.channel == Delivery.SMS:  # the short links of its texts, if it tracks them
        from envoi.sending.channels.sms.links import delivery_links

        variants = []
        rows = [TrackedLink(delivery=delivery, index=link.index, url=link.url,
                            personalized=link.personalized)
                for link in delivery_links(delivery)]
    for variant in variants:
        html_part = sendable(delivery, variant).html_body
        offset = len(rows)
        rows += [TrackedLink(delivery=delivery, index=offset + link.index, url=link.url,
                             personalized=link.personalized)
                 for link in (links.tracked_links(html_part) if html_part else ())]
    TrackedLink.objects.bulk_create(rows)
    forget_links(delivery.pk)
