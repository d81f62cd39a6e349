"""Consent notices by SMS (:mod:`envoi.consent.notices`): the text, in the profile's
language, and its sending through the configured SMSCs (``ENVOI_SMPP_URL``), from
``ENVOI_CONSENT_NOTICE_SMS_FROM``.

The text is short (one or two parts): the sender, the date, and how to refuse, by the
preference-centre link and, when set, the free 080 number of Korean advertising.
"""

from __future__ import annotations

import threading
from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from envoi.audiences.models import Profile
from envoi.config import smscs_from_url
from envoi.consent.models import NoticeKind
from envoi.consent.notice_mail import local_date, preferences_url
from envoi.consent.pages import brand, supported
from envoi.sending.channels.sms import segments
from envoi.sending.channels.sms.render import SmsMessage
from envoi.sending.channels.sms.transport import SmppPool, SmppReply

ANSWER_WITHIN = 30.0  # seconds for the SMSC's submit_sm_resp; later: outcome unknown


def enabled() -> bool:
    return bool(settings.ENVOI_SMPP_URL.strip()
                and settings.ENVOI_CONSENT_NOTICE_SMS_FROM.strip())


def notice_text(profile: Profile, kind: str, date: datetime) -> tuple[str, str]:
    """The SMS of a notice of ``kind`` about the consent of ``date``, and its language."""
    language = supported(profile.language) or "en"
    values = {"brand": brand().name, "date": local_date(date, profile),
              "link": preferences_url(profile.pk)}
    number = settings.ENVOI_KR_OPT_OUT_NUMBER.strip()
    with translation.override(language):
        if kind == NoticeKind.RECONFIRM:
            text = _("[%(brand)s] On %(date)s you agreed to receive advertising by SMS. "
                     "To keep it, do nothing. To refuse: %(link)s") % values
        elif kind == NoticeKind.GRANTED:
            text = _("[%(brand)s] On %(date)s you agreed to receive advertising by SMS. "
                     "To refuse at any time: %(link)s") % values
        else:
            text = _("[%(brand)s] On %(date)s you refused advertising by SMS: we send "
                     "you no more.") % values
        if number.startswith("080") and kind != NoticeKind.WITHDRAWN:
            text += " " + _("Free refusal: %(number)s") % {"number": number}
    return text, language


def sms_message(destination: str, text: str) -> SmsMessage:
    segmented = segments.segment(text)
    parts = segmented.parts
    if len(parts) > 1:
        parts = tuple(segments.udh(0, len(parts), index) + part
                      for index, part in enumerate(parts, start=1))
    return SmsMessage(0, settings.ENVOI_CONSENT_NOTICE_SMS_FROM.strip(), destination,
                      segmented.encoding, parts, text)


class _Answer:
    """Where the SMPP session answers one message (the pool's ``replies`` contract)."""

    def __init__(self) -> None:
        self.reply: SmppReply | None = None
        self.done = threading.Event()

    def answer(self, _index: int, reply: SmppReply) -> None:
        self.reply = reply
        self.done.set()


class SmsNotices:
    """The SMSC sessions of one run, opened on first use and closed at its end."""

    def __init__(self) -> None:
        self.pool: SmppPool | None = None

    def send(self, destination: str, text: str) -> SmppReply | None:
        """The SMSC's answer, or None when none came in time (it may have the message)."""
        if self.pool is None:
            self.pool = SmppPool(smscs_from_url(settings.ENVOI_SMPP_URL))
        answer = _Answer()
        self.pool.submit(sms_message(destination, text), answer, 0)
        answer.done.wait(ANSWER_WITHIN)
        return answer.reply

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
