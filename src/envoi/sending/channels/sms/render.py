"""From a sending-log row and its profile to the parts of one SMS.

The Liquid ``text_body`` is parsed once per delivery and rendered per recipient with
the same profile fields as email. The text is then encoded (GSM-7 or UCS-2) and cut
into parts (:mod:`.segments`); a long message carries a concatenation header whose
8-bit reference comes from the row id, so a message sent again after a crash is
reassembled the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liquid.exceptions import LiquidError

from envoi.deliveries.content import environment
from envoi.deliveries.liquid import PersonalizationError, error_message
from envoi.deliveries.models import Delivery
from envoi.sending.channels.sms import segments
from envoi.sending.render import profile_context


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
    """Renders a delivery's ``text_body`` for each recipient (``render`` has the
    renderer signature the worker calls for every channel)."""

    def __init__(self, delivery: Delivery):
        self.delivery_id = delivery.pk
        self.sender = delivery.sender.strip()
        try:
            self.template = environment.from_string(delivery.text_body)
        except LiquidError as error:
            raise PersonalizationError(f"text_body: {error_message(error)}",
                                       "text_body") from error

    def text(self, profile: dict[str, Any]) -> str:
        try:
            return self.template.render(**profile_context(profile))
        except LiquidError as error:
            raise PersonalizationError(error_message(error), "text_body") from error

    def render(self, row_id: int, address: str, profile: dict[str, Any],
               variant: str = "") -> SmsMessage:
        text = self.text(profile)
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
