"""From a sending-log row and its profile to the parts of one SMS.

The Liquid ``text_body`` of each language variant is parsed once per delivery and
rendered per recipient, in the row's variant, with the same profile fields as email.
When the delivery tracks its links, each web address of the text was cut out of the
template before parsing and is written back per recipient as a short signed link
(:mod:`.links`, :mod:`envoi.tracking.short`), so the parts counted are those of the
text as sent. The text is then encoded (GSM-7 or UCS-2) and cut into parts
(:mod:`.segments`); a long message carries a concatenation header whose 8-bit
reference comes from the row id, so a message sent again after a crash is reassembled
the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from liquid.exceptions import LiquidError

from envoi.deliveries.content import environment
from envoi.deliveries.liquid import PersonalizationError, error_message
from envoi.deliveries.models import Delivery
from envoi.sending.channels.sms import segments
from envoi.sending.channels.sms.links import found_links, variant_texts
from envoi.sending.render import profile_context
from envoi.tracking.short import short_url

# Where a tracked link was cut out of the template: private-use characters, which
# Liquid passes through and no SMS text needs.
_SLOT = re.compile("\ue000([0-9]+)\ue001")


@dataclass(frozen=True)
class SmsMessage:
    """One recipient's SMS as it goes out: each part's ``short_message`` (with its UDH
    when there are several) and the submit_sm fields they share."""

    row_id: int
    source: str
    destination: str
    encoding: str
    parts: tuple[bytes, ...]
    text: str

    @property
    def data_coding(self) -> int:
        return segments.DATA_CODING[self.encoding]

    @property
    def concatenated(self) -> bool:
        return len(self.parts) > 1

    @property
    def message_id(self) -> str:  # the SMSC names each part; nothing of ours to keep
        return ""


class SmsRenderer:
    """Renders a delivery's SMS for each recipient in the row's language variant
    (``render`` has the renderer signature the worker calls for every channel)."""

    def __init__(self, delivery: Delivery):
        self.delivery_id = delivery.pk
        self.sender = delivery.sender.strip()
        self.track_links = delivery.track_links
        self.templates: dict[str, Any] = {}
        first_link = 0
        for language, text in variant_texts(delivery):
            source = text
            if self.track_links:
                found = found_links(text, first_link)
                first_link += len(found)
                for item in reversed(found):
                    source = (f"{source[:item.start]}\ue000{item.link.index}\ue001"
                              f"{source[item.end:]}")
            self.templates[language] = _parse(source, language)
        self.template = self.templates[""]

    def text(self, profile: dict[str, Any], variant: str = "", row_id: int = 0) -> str:
        template = self.templates.get(variant, self.template)
        try:
            text = template.render(**profile_context(profile))
        except LiquidError as error:
            raise PersonalizationError(error_message(error), "text_body") from error
        if self.track_links:
            text = _SLOT.sub(lambda slot: short_url(row_id, int(slot[1])), text)
        return text

    def render(self, row_id: int, address: str, profile: dict[str, Any],
               variant: str = "") -> SmsMessage:
        text = self.text(profile, variant, row_id)
        segmented = segments.segment(text)
        if segmented.count > segments.MAX_PARTS:
            raise PersonalizationError(f"the message needs {segmented.count} parts; "
                                       f"at most {segments.MAX_PARTS} can be joined",
                                       "text_body")
        parts = segmented.parts
        if len(parts) > 1:
            reference = row_id & 0xFF
            parts = tuple(segments.udh(reference, len(parts), index) + part
                          for index, part in enumerate(parts, start=1))
        return SmsMessage(row_id, self.sender, address, segmented.encoding, parts, text)


def _parse(source: str, language: str) -> Any:
    field = f"variants.{language}.text_body" if language else "text_body"
    try:
        return environment.from_string(source)
    except LiquidError as error:
        raise PersonalizationError(f"{field}: {error_message(error)}", field) from error
