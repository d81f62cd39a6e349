"""Qualify SMPP 3.4 command statuses and delivery-receipt states (SPEC §8, for SMS),
beside the SMTP table of :mod:`envoi.bounces.qualification`, with the same failure
types and reasons.

A status is hard only on evidence about the number itself (an invalid destination); a
refusal of the sender, the message or the account is soft and never counts against the
number. ``ESME_RTHROTTLED`` and ``ESME_RMSGQFUL`` never reach this table: the SMPP
session slows down and sends again (:mod:`envoi.sending.channels.sms.transport`).
"""

from __future__ import annotations

import re
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

# A receipt's ``err:`` that says the number itself cannot receive: the GSM MAP error
# causes (3GPP TS 29.002) that SMSCs commonly pass on. Such a receipt is a hard failure,
# and the number is quarantined as an email address is after a hard bounce. Absent
# subscribers, a full memory, barring and system failures stay soft: the handset may
# be off or the network busy.
PERMANENT_RECEIPT_ERRORS = {
    "001": "unknown subscriber",
    "005": "unidentified subscriber",
    "009": "illegal subscriber",
    "011": "teleservice not provisioned",
    "012": "illegal equipment",
}
_ERR = re.compile(r"\berr:(?P<err>[0-9A-Fa-f]{1,3})\b")


def receipt_failure(stat: str, text: str) -> tuple[str, str] | None:
    """The failure a receipt reports for its part (failure type, reason), or None when
    the part was delivered or is still on its way."""
    failure = RECEIPT_FAILURES.get(stat)
    if failure is None:
        return None
    match = _ERR.search(text)
    if match and match["err"].zfill(3) in PERMANENT_RECEIPT_ERRORS and stat in (
            "UNDELIV", "REJECTD"):
        return HARD, Reason.USER_UNKNOWN
    return failure
