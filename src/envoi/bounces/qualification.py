"""Qualify an SMTP reply or a bounce as a failure type and reason (SPEC §8).

One ordered table serves the sending path (synchronous replies) and the bounce path
(delivery status notifications and non-standard bounces): the first rule that matches
wins. Rules administrators add (:class:`~envoi.bounces.models.QualificationRule`) are
tried before the built-in ones. The built-in table, in the order it is tried:

1. enhanced status codes (RFC 3463), the most precise;
2. text patterns, in English, Korean and Japanese, for servers that send neither;
3. basic reply codes, for what nothing above explained: 421 (the server is closing the
   session) is unreachable, any other transient reply is soft "not defined", and so is
   a permanent one — an unexplained refusal says nothing against the address itself.

Every fallback is a row of that table, so the list administrators read
(``GET /api/v1/qualification-rules``) is exactly what is applied.

**A transient reply is never hard by accident.** A reply is transient when its basic
code is 4xx or its enhanced status code is 4.x.x: the server said "try again" (RFC 5321
§4.2.1, RFC 3463 §3.1). A hard rule applies to a transient reply only if it names a
transient code itself (a 4xx ``smtp_code``, or an ``enhanced`` code or prefix of class
4); otherwise it is passed over and the next rule decides. So "450 4.2.0 Recipient
address rejected: Greylisted" is not taken for an unknown user, nor is RFC 5321's
"450 ... mailbox unavailable" (a busy mailbox). No built-in hard rule names a transient
code. An administrator's rule that does (``smtp_code=450, pattern="account closed"`` ->
hard, for a provider known to answer 4xx for addresses that will never work again) is
honoured as written: the choice is explicit and covers only the replies it names, while
a broad hard rule (a pattern alone, or a 5.x.x code) written with permanent failures in
mind cannot quarantine an address over a greylisting. A hard failure is final: the
sending path does not retry it.

An ``enhanced`` condition that is a class alone (``4.``, ``5.``) matches by the class of
the reply (:func:`reply_class`), whether or not it carries an enhanced status code.

A send that got no reply at all (code 0: the relay could not be reached, hung up or
timed out) is the transport's failure, never the recipient's: it is soft "unreachable"
before any rule is read, so no pattern can match the text of a local connection error.

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
    enhanced: str = ""  # an exact code ("5.1.1"), a prefix ending in "." ("5.7."), a class ("4.")
    pattern: re.Pattern[str] | None = None
    code: int = 0  # a basic reply code; 0 matches any

    def matches(self, code: int, enhanced: str, text: str) -> bool:
        if self.code and self.code != code:
            return False
        if self.enhanced and not enhanced_matches(self.enhanced, enhanced, code):
            return False
        if (self.failure_type == HARD and is_transient_reply(code, enhanced)
                and not self.names_transient):
            return False  # see "A transient reply is never hard by accident" above
        return self.pattern is None or bool(self.pattern.search(text))

    @property
    def names_transient(self) -> bool:
        """The rule is written for transient replies: a 4xx code or a 4.x.x status."""
        return 400 <= self.code < 500 or self.enhanced.startswith("4.")


CLASS_ONLY = re.compile(r"[245]\.")


def enhanced_matches(rule: str, enhanced: str, code: int = 0) -> bool:
    """``5.1.1`` matches only 5.1.1 (not 5.1.10); ``5.7.`` matches every 5.7.x; a class
    alone (``4.``, ``5.``) matches every reply of that class (:func:`reply_class`), with
    or without an enhanced status code."""
    if CLASS_ONLY.fullmatch(rule):
        return reply_class(code, enhanced) == rule[0]
    return enhanced.startswith(rule) if rule.endswith(".") else enhanced == rule


def is_transient_reply(code: int, enhanced: str) -> bool:
    """The server said "try again later": a 4xx reply, or a 4.x.x status (some servers
    pair one with a 5xx code, e.g. "550 4.4.7 message expired")."""
    return 400 <= code < 500 or enhanced.startswith("4.")


def reply_class(code: int, enhanced: str) -> str:
    """The class of a reply: "4" transient, "5" permanent, "2" a success, "" no reply."""
    if is_transient_reply(code, enhanced):
        return "4"
    for digit in "52":
        if code // 100 == int(digit) or enhanced.startswith(f"{digit}."):
            return digit
    return ""


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
        r"reputation|not accepted|refused|grey ?list|gray ?list|"
        r"스팸|차단|수신\s?거부|受信拒否|迷惑メール|拒否")),
]

# What a reply means when nothing above explained it, by its basic code (SPEC §8).
CODE_RULES: list[Rule] = [
    Rule(SOFT, Reason.UNREACHABLE, code=421),  # the server is closing the session
    Rule(SOFT, Reason.NOT_DEFINED, enhanced="4."),  # any other transient reply
    # An unexplained refusal says nothing against the address itself.
    Rule(SOFT, Reason.NOT_DEFINED, enhanced="5."),
    Rule(SOFT, Reason.NOT_DEFINED),  # anything else (a bounce that quotes no usable code)
]

RULES: list[Rule] = ENHANCED_RULES + TEXT_RULES + CODE_RULES


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
    """Failure type and reason of a refused message; ``code`` 0 means no reply at all."""
    if code == 0:
        # The relay could not be reached: nothing was said about the address.
        return Qualification(SOFT, Reason.UNREACHABLE)
    for rule in admin_rules.current():
        if rule.matches(code, enhanced, text):
            return Qualification(rule.failure_type, rule.reason)
    return qualify_builtin(code, enhanced, text)


def qualify_builtin(code: int, enhanced: str, text: str) -> Qualification:
    for rule in RULES:
        if rule.matches(code, enhanced, text):
            return Qualification(rule.failure_type, rule.reason)
    raise AssertionError("the built-in table ends with a rule that matches every reply")


def is_transient(code: int) -> bool:
    """Worth another attempt: no connection, or a 4xx reply. A 5xx will not change, even
    with a 4.x.x status: the basic code says what the server will do (RFC 5321 §4.2.1).
    Typing a reply looks at both codes (:func:`is_transient_reply`)."""
    return code == 0 or 400 <= code < 500


def builtin_rules() -> list[dict[str, object]]:
    """The built-in table as data, in the order it is tried (for the API)."""
    return [{"position": n, "smtp_code": rule.code, "enhanced": rule.enhanced,
             "pattern": rule.pattern.pattern if rule.pattern else "",
             "failure_type": rule.failure_type, "reason": rule.reason}
            for n, rule in enumerate(RULES, start=1)]
