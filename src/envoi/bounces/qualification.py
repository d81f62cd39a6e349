"""Qualify an SMTP reply as a failure type and reason (SPEC §8).

One ordered table serves the sending path (synchronous replies) and, later, the bounce
path (delivery status notifications): the first rule that matches wins. Enhanced status
codes (RFC 3463) are more precise than basic reply codes, so they are tried first; the
text patterns catch servers that send neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HARD, SOFT, IGNORED = "hard", "soft", "ignored"


class Reason:
    USER_UNKNOWN = "user_unknown"
    INVALID_DOMAIN = "invalid_domain"
    MAILBOX_FULL = "mailbox_full"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    ACCOUNT_DISABLED = "account_disabled"
    NOT_DEFINED = "not_defined"


@dataclass(frozen=True)
class Rule:
    failure_type: str
    reason: str
    enhanced: str = ""  # prefix of an enhanced status code, e.g. "5.1.1"
    pattern: re.Pattern[str] | None = None


def _text(expression: str) -> re.Pattern[str]:
    return re.compile(expression, re.IGNORECASE)


RULES: list[Rule] = [
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.1"),
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.1.2"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.3"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.6"),
    Rule(HARD, Reason.ACCOUNT_DISABLED, enhanced="5.2.1"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="5.2.2"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="4.2.2"),
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.4.4"),
    Rule(SOFT, Reason.UNREACHABLE, enhanced="4.4."),
    Rule(SOFT, Reason.REFUSED, enhanced="5.7."),
    Rule(SOFT, Reason.REFUSED, enhanced="4.7."),
    Rule(HARD, Reason.USER_UNKNOWN,
         pattern=_text(r"user unknown|no such user|unknown user|does not exist|"
                       r"recipient (address )?rejected|invalid recipient|no mailbox")),
    Rule(HARD, Reason.INVALID_DOMAIN,
         pattern=_text(r"domain not found|host not found|no such domain|unrouteable")),
    Rule(SOFT, Reason.MAILBOX_FULL, pattern=_text(r"mailbox (is )?full|over ?quota|quota")),
    Rule(HARD, Reason.ACCOUNT_DISABLED, pattern=_text(r"disabled|inactive|suspended")),
    Rule(SOFT, Reason.REFUSED, pattern=_text(r"spam|blocked|blacklist|denylist|policy")),
]


@dataclass(frozen=True)
class Qualification:
    failure_type: str
    reason: str


def qualify(code: int, enhanced: str = "", text: str = "") -> Qualification:
    """Failure type and reason of a refused message; ``code`` 0 means no connection."""
    if code == 0:
        return Qualification(SOFT, Reason.UNREACHABLE)
    for rule in RULES:
        if rule.enhanced and enhanced.startswith(rule.enhanced):
            return Qualification(rule.failure_type, rule.reason)
    for rule in RULES:
        if rule.pattern is not None and rule.pattern.search(text):
            return Qualification(rule.failure_type, rule.reason)
    if code == 421:
        return Qualification(SOFT, Reason.UNREACHABLE)
    # An unexplained refusal says nothing against the address itself (SPEC §8).
    return Qualification(SOFT, Reason.NOT_DEFINED)


def is_transient(code: int) -> bool:
    """Worth another attempt: no connection, or a 4xx reply. A 5xx will not change."""
    return code == 0 or 400 <= code < 500
