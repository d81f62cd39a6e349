"""How a consent notice reaches the person: by email through the configured SMTP relays,
or by SMS through the configured SMSCs, each opened once per run of the job.

:meth:`Transports.deliver` turns the outcome into :class:`Sent`, whose ``final`` says
the message may have been handed over even though no success came back (a connection
cut after the data, an SMSC that never answered): such a notice is never tried again.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from envoi.audiences.models import Profile
from envoi.audiences.phones import region_of, to_e164
from envoi.config import relays_from_url
from envoi.consent import notice_sms
from envoi.consent.models import Channel
from envoi.consent.notice_mail import notice_message
from envoi.sending.smtp import SmtpConnection, SmtpOutcome


@dataclass(frozen=True)
class Sent:
    ok: bool
    reply: str
    language: str
    final: bool = False  # no success, but never to be tried again (see the docstring)


class Relays:
    """The configured SMTP relays (``ENVOI_SMTP_URL``), one connection each, opened on
    first use: a relay that cannot be reached hands the message to the next one."""

    def __init__(self) -> None:
        self.connections = [SmtpConnection.from_config(config)
                            for config in relays_from_url(settings.ENVOI_SMTP_URL)]

    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> SmtpOutcome:
        outcome = None
        for connection in self.connections:
            outcome = connection.send(mail_from, rcpt_to, data)
            if not outcome.relay_fault:  # this relay answered, or may hold the message
                return outcome
        assert outcome is not None
        return outcome

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class Transports:
    """Email and SMS for one run of the job; :meth:`close` at its end."""

    def __init__(self) -> None:
        self.relays: Relays | None = None
        self.sms: notice_sms.SmsNotices | None = None

    def deliver(self, channel: str, profile: Profile, kind: str, date: datetime) -> Sent:
        if channel == Channel.SMS:
            return self._by_sms(profile, kind, date)
        return self._by_email(profile, kind, date)

    def _by_email(self, profile: Profile, kind: str, date: datetime) -> Sent:
        message, language = notice_message(profile, kind, date)
        self.relays = self.relays or Relays()
        outcome = self.relays.send(settings.ENVOI_CONSENT_NOTICE_MAIL_FROM, profile.email,
                                   message.as_bytes(policy=email.policy.SMTP))
        reply = f"{outcome.code} {outcome.text}".strip()
        # Cut off after the message was handed over: the relay may have it.
        cut_off = not outcome.ok and outcome.code == 0 and not outcome.relay_fault
        return Sent(outcome.ok, reply, language, final=cut_off)

    def _by_sms(self, profile: Profile, kind: str, date: datetime) -> Sent:
        text, language = notice_sms.notice_text(profile, kind, date)
        number = to_e164(profile.phone, region_of(profile.attributes))
        if number is None:
            return Sent(False, "not a phone number", language, final=True)
        self.sms = self.sms or notice_sms.SmsNotices()
        reply = self.sms.send(number, text)
        if reply is None:
            return Sent(False, "no answer from the SMSC in time", language, final=True)
        detail = f"{reply.smsc} {'ok' if reply.ok else reply.status} {reply.detail}"
        return Sent(reply.ok, detail.strip(), language)

    def close(self) -> None:
        if self.relays is not None:
            self.relays.close()
        if self.sms is not None:
            self.sms.close()
