"""Qualify an SMTP reply or a bounce as a failure type and reason (SPEC §8).

One ordered table serves the sending path (synchronous replies) and the bounce path
(delivery status notifications and non-standard bounces): the first rule that matches
wins. Rules administrators add (:class:`~envoi.bounces.models.QualificationRule`) are
tried before the built-in ones. Within the built-in table, enhanced status codes
(RFC 3463) are more precise than basic reply codes, so they are tried first; the text
patterns, in English, Korean and Japanese, catch servers that send neither.

The send path qualifies every refused reply, so the administrators' rules are read
from the database at most once per :data:`ADMIN_RULES_TTL` seconds per process (and at
once after a change made in this process).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

HARD, SOFT, IGNORED = "hard", "soft", "ignored"
FAILURE_TYPES = (HARD, SOFT, IGNORED)
ADMIN_RULES_TTL = 30.0


class Reason:
    USER_UNKNOWN = "user_unknown"
    INVALID_DOMAIN = "invalid_domain"
    MAILBOX_FULL = "mailbox_full"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    ACCOUNT_DISABLED = "account_disabled"
    NOT_DEFINED = "not_defined"
    AUTO_REPLY = "auto_reply"  # out of office, vacation: not a failure
    DELAYED = "delayed"  # the remote side is still trying: not a failure yet
    COMPLAINT = "complaint"  # the recipient reported the message as spam


@dataclass(frozen=True)
class Rule:
    failure_type: str
    reason: str
    enhanced: str = ""  # an exact enhanced code ("5.1.1") or a prefix ending in "."
    pattern: re.Pattern[str] | None = None
    code: int = 0  # a basic reply code; 0 matches any

    def matches(self, code: int, enhanced: str, text: str) -> bool:
        if self.code and self.code != code:
            return False
        if self.enhanced and not enhanced_matches(self.enhanced, enhanced):
            return False
        return self.pattern is None or bool(self.pattern.search(text))


def enhanced_matches(rule: str, enhanced: str) -> bool:
    """``5.1.1`` matches only 5.1.1 (not 5.1.10); ``5.7.`` matches every 5.7.x."""
    return enhanced.startswith(rule) if rule.endswith(".") else enhanced == rule


def _text(expression: str) -> re.Pattern[str]:
    return re.compile(expression, re.IGNORECASE)


ENHANCED_RULES: list[Rule] = [
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.1"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.10"),  # Exchange: recipient not found
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.1.2"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.3"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.6"),
    Rule(HARD, Reason.ACCOUNT_DISABLED, enhanced="5.2.1"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="5.2.2"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="4.2.2"),
    Rule(SOFT, Reason.REFUSED, enhanced="5.2.3"),  # message too big for the mailbox
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.4.4"),
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.4.310"),  # Exchange: DNS domain unknown
    Rule(SOFT, Reason.UNREACHABLE, enhanced="4.4."),
    Rule(SOFT, Reason.UNREACHABLE, enhanced="5.4.7"),  # delivery time expired
    Rule(SOFT, Reason.UNREACHABLE, enhanced="4.3."),
    Rule(SOFT, Reason.REFUSED, enhanced="5.7."),
    Rule(SOFT, Reason.REFUSED, enhanced="4.7."),
]

# Tried in order when no enhanced rule matched; the first pattern found wins, so the
# more telling ones come first ("mailbox full" before a generic "rejected").
TEXT_RULES: list[Rule] = [
    Rule(SOFT, Reason.MAILBOX_FULL, pattern=_text(
        r"mailbox (is )?full|over ?quota|quota (exceeded|full)|exceeded (the |its )?"
        r"(storage|quota)|insufficient (disk )?space|mailbox size limit|"
        r"용량.{0,6}(초과|부족)|(메일함|편지함|사서함).{0,6}(가득|꽉)|"
        r"容量.{0,8}(超え|オーバー|不足|一杯|いっぱい)|(メールボックス|メールボツクス).{0,6}"
        r"(いっぱい|一杯|満杯)")),
    Rule(HARD, Reason.ACCOUNT_DISABLED, pattern=_text(
        r"account (has been |is )?(disabled|deactivated|inactive|suspended|closed)|"
        r"mailbox (is )?(disabled|inactive|suspended)|account that you tried to reach is "
        r"(disabled|inactive)|휴면|(계정|계좌).{0,8}(정지|중지|비활성)|"
        r"(アカウント|アカウント).{0,8}(停止|無効|休止)|利用停止")),
    Rule(HARD, Reason.INVALID_DOMAIN, pattern=_text(
        r"domain (not found|does not exist)|host (or domain name )?not found|"
        r"no such domain|unrouteable|unroutable|name or service not known|"
        r"host unknown|no mx|nxdomain|"
        r"ドメイン.{0,10}(見つかりません|存在しません)|도메인.{0,10}(찾을 수 없|존재하지 않)")),
    Rule(HARD, Reason.USER_UNKNOWN, pattern=_text(
        r"user ?unknown|no such (user|recipient|mailbox|address)|unknown (user|recipient)|"
        r"does not exist|doesn'?t (have|exist)|not exist|recipient (address )?rejected|"
        r"invalid (recipient|mailbox|address)|no mailbox|mailbox unavailable|"
        r"recipient not found|address rejected|user not found|not a valid mailbox|"
        r"account .{0,40}does not exist|unknown or illegal alias|"
        r"存在しません|宛先(が|は)?(不明|見つかりません)|(ユーザ|ユーザー)が?(見つかりません|存在)|"
        r"該当する(ユーザ|ユーザー|アドレス)|"
        r"존재하지 않|(사용자|수신자|받는\s?사람|계정|주소).{0,8}(없|찾을 수 없|알 수 없)")),
    Rule(SOFT, Reason.UNREACHABLE, pattern=_text(
        r"connection (timed out|refused)|timed out|could not connect|network is unreachable|"
        r"delivery (time )?expired|retry time(out)? (exceeded|not reached)|"
        r"temporarily (unavailable|deferred)|try again later|"
        r"接続できません|タイムアウト|연결할 수 없|시간 초과")),
    Rule(SOFT, Reason.REFUSED, pattern=_text(
        r"spam|blocked|blacklist|block ?list|denylist|policy|rejected for policy|"
        r"reputation|not accepted|refused|"
        r"스팸|차단|수신\s?거부|受信拒否|迷惑メール|拒否")),
]

RULES: list[Rule] = ENHANCED_RULES + TEXT_RULES


@dataclass(frozen=True)
class Qualification:
    failure_type: str
    reason: str


class _AdminRules:
    """The administrators' rules, compiled, re-read from the database at most every
    :data:`ADMIN_RULES_TTL` seconds (or at once after :meth:`invalidate`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[Rule] = []
        self.read_at = float("-inf")

    def current(self) -> list[Rule]:
        if time.monotonic() - self.read_at < ADMIN_RULES_TTL:
            return self.rules
        with self.lock:
            if time.monotonic() - self.read_at >= ADMIN_RULES_TTL:
                self.rules = load_admin_rules()
                self.read_at = time.monotonic()
        return self.rules

    def invalidate(self) -> None:
        self.read_at = float("-inf")


def load_admin_rules() -> list[Rule]:
    from envoi.bounces.models import QualificationRule

    rows = QualificationRule.objects.order_by("priority", "id")
    return [Rule(row.failure_type, row.reason, enhanced=row.enhanced, code=row.smtp_code,
                 pattern=_text(row.pattern) if row.pattern else None) for row in rows]


admin_rules = _AdminRules()


def qualify(code: int, enhanced: str = "", text: str = "") -> Qualification:
    """Failure type and reason of a refused message; ``code`` 0 means no connection."""
    for rule in admin_rules.current():
        if rule.matches(code, enhanced, text):
            return Qualification(rule.failure_type, rule.reason)
    if code == 0:
        return Qualification(SOFT, Reason.UNREACHABLE)
    return qualify_builtin(code, enhanced, text)


def qualify_builtin(code: int, enhanced: str, text: str) -> Qualification:
    for rule in ENHANCED_RULES:
        if enhanced and enhanced_matches(rule.enhanced, enhanced):
            return Qualification(rule.failure_type, rule.reason)
    for rule in TEXT_RULES:
        if rule.pattern is not None and rule.pattern.search(text):
            return Qualification(rule.failure_type, rule.reason)
    if code == 421:
        return Qualification(SOFT, Reason.UNREACHABLE)
    # An unexplained refusal says nothing against the address itself (SPEC §8).
    return Qualification(SOFT, Reason.NOT_DEFINED)


def is_transient(code: int) -> bool:
    """Worth another attempt: no connection, or a 4xx reply. A 5xx will not change."""
    return code == 0 or 400 <= code < 500


def builtin_rules() -> list[dict[str, object]]:
    """The built-in table as data, in the order it is tried (for the API)."""
    return [{"position": n, "smtp_code": rule.code, "enhanced": rule.enhanced,
             "pattern": rule.pattern.pattern if rule.pattern else "",
             "failure_type": rule.failure_type, "reason": rule.reason}
            for n, rule in enumerate(RULES, start=1)]
