"""One renderer per language variant of a delivery, chosen per sending-log row.

Each variant keeps today's :class:`~envoi.sending.render.DeliveryRenderer`, built once
per delivery, so the per-recipient path is unchanged: one dictionary lookup picks the
variant's renderer. Tracked-link numbers are global to the delivery: variant ``k``'s
links follow those of the variants before it (``link_offset``), so a click token names
one ``TrackedLink`` whatever the variant (:func:`envoi.content.links.store_links`).
"""

from __future__ import annotations

from typing import Any

from envoi.content.authoring import DEFAULT, sendable, variants_of
from envoi.deliveries.models import Delivery
from envoi.sending.render import DeliveryRenderer, OutgoingMessage
from envoi.tracking import links


class VariantRenderer:
    """A delivery's messages in every language variant."""

    def __init__(self, delivery: Delivery, subject_prefix: str = ""):
        self.renderers: dict[str, DeliveryRenderer] = {}
        offset = 0
        for variant in variants_of(delivery):
            view = sendable(delivery, variant)
            self.renderers[variant.language] = DeliveryRenderer(
                view, subject_prefix=subject_prefix, link_offset=offset)
            offset += len(links.tracked_links(view.html_body)) if view.html_body else 0
        self.default = self.renderers[DEFAULT]

    def for_variant(self, language: str) -> DeliveryRenderer:
        return self.renderers.get(language, self.default)

    def render(self, row_id: int, address: str, profile: dict[str, Any],
               unsubscribe_url: str | None = None, message_key: str | None = None,
               variant: str = DEFAULT) -> OutgoingMessage:
        return self.renderers.get(variant, self.default).render(
            row_id, address, profile, unsubscribe_url, message_key)
