"""Qualify SMPP 3.4 command statuses and delivery-receipt states (SPEC §8, for SMS),
beside the SMTP table of :mod:`envoi.bounces.qualification`, with the same failure
types and reasons.

A status is hard only on evidence about the number itself (an invalid destination); a
refusal of the sender, the message or the account is soft and never counts against the
number. ``ESME_RTHROTTLED`` and ``ESME_RMSGQFUL`` never reach this table: the SMPP
session slows down and sends again (:mod:`envoi.sending.channels.sms.transport`).
"""

from __future__ import annotations

from typing import NamedTuple

from envoi.bounces.qualification import HARD, SOFT, Reason


class SmppQualification(NamedTuple):
    failure_type: str
    reason: str
    transient: bool  # worth sending again later


NO_ANSWER = -1  # no SMSC could be reached, or it never answered

# command_status -> (name, qualification). Unlisted statuses: soft, not defined, retried.
STATUSES: dict[int, tuple[str, SmppQualification]] = {
    NO_ANSWER: ("no answer", SmppQualification(SOFT, Reason.UNREACHABLE, True)),
    0x01: ("ESME_RINVMSGLEN", SmppQualification(SOFT, Reason.POLICY, False)),
    0x08: ("ESME_RSYSERR", SmppQualification(SOFT, Reason.UNREACHABLE, True)),
    0x0A: ("ESME_RINVSRCADR", SmppQualification(SOFT, Reason.POLICY, False)),
    0x0B: ("ESME_RINVDSTADR", SmppQualification(HARD, Reason.USER_UNKNOWN, False)),
    0x0D: ("ESME_RBINDFAIL", SmppQualification(SOFT, Reason.UNREACHABLE, True)),
    0x14: ("ESME_RMSGQFUL", SmppQualification(SOFT, Reason.POLICY, True)),
    0x33: ("ESME_RINVNUMDESTS", SmppQualification(HARD, Reason.USER_UNKNOWN, False)),
    0x45: ("ESME_RSUBMITFAIL", SmppQualification(SOFT, Reason.NOT_DEFINED, True)),
    0x48: ("ESME_RINVSRCTON", SmppQualification(SOFT, Reason.POLICY, False)),
    0x49: ("ESME_RINVSRCNPI", SmppQualification(SOFT, Reason.POLICY, False)),
    0x50: ("ESME_RINVDSTTON", SmppQualification(HARD, Reason.USER_UNKNOWN, False)),
    0x51: ("ESME_RINVDSTNPI", SmppQualification(HARD, Reason.USER_UNKNOWN, False)),
    0x58: ("ESME_RTHROTTLED", SmppQualification(SOFT, Reason.POLICY, True)),
    0x61: ("ESME_RINVSCHED", SmppQualification(SOFT, Reason.POLICY, False)),
    0x62: ("ESME_RINVEXPIRY", SmppQualification(SOFT, Reason.POLICY, False)),
    0x64: ("ESME_RX_T_APPN", SmppQualification(SOFT, Reason.NOT_DEFINED, True)),
    0x65: ("ESME_RX_P_APPN", SmppQualification(HARD, Reason.REFUSED, False)),
    0x66: ("ESME_RX_R_APPN", SmppQualification(SOFT, Reason.REFUSED, False)),
    0x67: ("ESME_RQUERYFAIL", SmppQualification(SOFT, Reason.NOT_DEFINED, True)),
}
UNLISTED = SmppQualification(SOFT, Reason.NOT_DEFINED, True)


def status_name(status: int) -> str:
    return STATUSES.get(status, (f"0x{status:08X}", UNLISTED))[0]


def qualify_status(status: int) -> SmppQualification:
    return STATUSES.get(status, ("", UNLISTED))[1]


# Delivery receipt ``stat:`` values (SMPP 3.4 appendix B) that end a message's journey.
DELIVERED = "DELIVRD"
RECEIPT_FAILURES: dict[str, tuple[str, str]] = {
    "UNDELIV": (SOFT, Reason.UNREACHABLE),
    "EXPIRED": (SOFT, "expired"),
    "REJECTD": (SOFT, Reason.REFUSED),
    "UNKNOWN": (SOFT, Reason.NOT_DEFINED),
    "DELETED": (SOFT, Reason.NOT_DEFINED),
}
INTERMEDIATE = ("ACCEPTD", "ENROUTE")  # the SMSC took it; the journey goes on
