"""Qualify an SMTP reply or a bounce as a failure type and reason (SPEC §8).

One ordered table serves the sending path (synchronous replies) and the bounce path
(delivery status notifications and non-standard bounces): the first rule that matches
wins. Rules administrators add (:class:`~envoi.bounces.models.QualificationRule`) are
tried before the built-in ones. The built-in table, in the order it is tried:

1. the words of a full mailbox, then the words of a **sender-side or policy refusal**:
   block lists, reputation, missing reverse DNS, HELO, SPF/DKIM/DMARC, the sender's
   address or domain refused, relaying denied, spam or content filters, message too
   big, rate and volume limits, greylisting. These are soft, reason ``policy``;
2. enhanced status codes (RFC 3463) that say something precise: 5.1.1 user unknown,
   5.1.2 bad domain, 5.2.1 and 5.7.13 account disabled, 5.2.2 full, 5.1.7/5.1.8 the
   sender refused (policy), 5.7.x and 5.6.x refused by policy, 4.4.x unreachable...
   A code whose detail is 0 (5.0.0, 5.1.0, 5.2.0) names only a subject and is left to
   the words;
3. the words that are evidence about the recipient's address (account disabled, no
   such domain, user unknown, moved), in English, Korean and Japanese, and the
   phrasings of other MTAs for the same classes (French, Italian, Spanish "unknown
   user"; Domino's "not in the directory"; qmail's badrcptto lists). A guess ("may not
   exist") is not evidence;
4. the words of an unreachable host or of a refusal that gives no reason (soft);
5. basic reply codes, for what nothing above explained: 421 (the server is closing the
   session) is unreachable, any other transient reply is soft "not defined", and so is
   a permanent one — an unexplained refusal says nothing against the address itself.

**When the code and the words disagree, the more specific evidence decides.** Words
that blame the sender, its host or its message beat any code: Gmail's "5.2.1 ...
receiving mail at a rate that prevents additional messages" is a rate limit, not a
disabled account, and "5.1.3 ... IP on our block list" is not a bad address. Words of
a full mailbox beat a 5.1.1 ("user over quota (#5.1.1)"). A precise code beats the
words that are only about the recipient ("5.7.1 ... user unknown" stays a policy
refusal, since the words of a policy server are often a disguise), and a generic code
(x.y.0) leaves the decision to the words ("5.0.0 Address not found" is user unknown).
Postfix's "Recipient address rejected:" is only the stage of the refusal, so it is
read with what follows it, never alone. A failure is hard only on evidence about the
address; sender-side and policy refusals never are.

The bounce path reads one recipient at a time with its own codes and diagnostic
(:mod:`envoi.bounces.parsing`), and the code quoted in a diagnostic outranks the
``Status:`` field the reporting MTA computed from it.

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
    # Refused for what the sender, its host or its message did (block lists, rates,
    # authentication, content, size): soft, and never counted against the address.
    POLICY = "policy"
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


# The words that are evidence about the recipient's address itself.
ADDRESS_TEXT: list[Rule] = [
    Rule(HARD, Reason.ACCOUNT_DISABLED, pattern=_text(
        r"account (has been |is |was )?(disabled|deactivated|inactive|suspended|closed|"
        r"locked|frozen|discontinued|expired)|(mailbox|user|address) (has been |is |was )?"
        r"(disabled|deactivated|inactive|suspended|frozen|locked)|"
        r"inactive (user|account|mailbox)|invalid/inactive|is currently suspended|"
        r"administrativ\w* disabled|"
        r"account that you tried to reach is (disabled|inactive)|deactivated mailbox|"
        r"user is terminated|suspended recipient account|user suspended|"
        r"account has been disabled or discontinued|account is locked|"
        r"inactive e-?mail address|recipient account isn'?t enabled|"
        r"compte du destinataire est bloqu|"
        r"휴면|(계정|계좌).{0,8}(정지|중지|비활성)|"
        r"(アカウント|アカウント).{0,8}(停止|無効|休止)|利用停止")),
    Rule(HARD, Reason.INVALID_DOMAIN, pattern=_text(
        r"domain (name )?(not found|does not exist|unknown|must exist|is unknown)|"
        r"host (or domain name )?not found|no such domain|unknown domain|unrouteable|"
        r"unroutable|name or service not known|host unknown|unknown host|no mx|nxdomain|"
        r"null mx|does not accept (any )?mail(?! from)|mail domain mentioned .{0,30} unknown|"
        r"domain is not reachable|check the domain|domain .{0,40}(does not|doesn'?t) exist|"
        r"domain \S+ (couldn'?t|could not) be found|doesn'?t receive e?mail|"
        r"couldn'?t find any host|all relevant mx records point to non-existent hosts|"
        r"the account or domain may not exist|recipient domain must exist|"
        r"ドメイン.{0,10}(見つかりません|存在しません)|도메인.{0,10}(찾을 수 없|존재하지 않)")),
    Rule(HARD, Reason.USER_UNKNOWN, pattern=_text(
        r"user ?unknown|no such (user|recipient|mailbox|address|person)|"
        r"unknown (user|recipient|mailbox|address|local ?part|e-?mail)|"
        # "may not exist" is a guess (Google Groups: "or you may not have permission")
        r"(?<!may )(?<!might )(does not|doesn'?t|not) exist|doesn'?t have|"
        r"invalid (recipient|mailbox|"
        r"address|user)|invalid( \w+){0,2} (user ?id|username)|no mailbox|"
        r"mailbox unavailable|mailbox (not found|not present)|"
        r"recipient not found|user not found|not a valid (mailbox|user|recipient)|"
        r"is not a known user|address (not found|unknown|invalid|not present)|"
        r"(recipient|user) name is not recognized|unknown\s+recipient|no valid recipient|"
        r"(couldn'?t|could not|cannot|can'?t) be found|not listed in|no one at this address|"
        r"bad (recipient|address|destination)|badrcptto|unknown or illegal alias|"
        r"no longer (accepts mail|available|valid|in use|active)|has moved|"
        r"does not like recipient|resolver\.adr\.(ex)?recip(ient)?notfound|"
        r"resolver\.adr\.invalidinsmtp|"
        r"recipient address rejected(\s*[.;(]|\s*$|: (access denied|invalid|unknown))|"
        r"5\.1\.0 address rejected|recipient (is )?not (accepted|local|ok)|"
        r"address not present in directory|can'?t accept user|"
        r"destination (addresses were unknown|server rejected recipients)|"
        r"invalid mailbox path|is not an active address|mailbox is inactive|"
        r"no (mail ?box|account) (by that name|available|found|here)|not a local address|"
        r"user (missing home directory|not active|not known)|email name is not found|"
        r"invalid or unknown virtual user|(badrecipientto|validrcptto) list|"
        r"envelope recipient (has been denied|is in my badrcptto)|"
        r"utilisateur inconnu|nessun utente|no existe (dicha persona|ese usuario)|"
        r"存在しません|ディレクトリ.{0,8}(にありません|見つかりません)|"
        r"(アドレス|宛先|ユーザ|ユーザー|受信者).{0,6}(見つから|存在し|不明)|"
        r"該当する(ユーザ|ユーザー|アドレス)|"
        r"존재하지 않|(사용자|수신자|받는\s?사람|계정|주소).{0,8}(없|찾을 수 없|알 수 없)")),
]

ENHANCED_RULES: list[Rule] = [
    # The sender's own address or domain was refused (RFC 3463 5.1.7, 5.1.8).
    Rule(SOFT, Reason.POLICY, enhanced="5.1.7"),
    Rule(SOFT, Reason.POLICY, enhanced="5.1.8"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.1"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.10"),  # Exchange: recipient not found
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.1.2"),
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.3"),  # bad destination address syntax
    Rule(HARD, Reason.USER_UNKNOWN, enhanced="5.1.6"),  # mailbox has moved
    Rule(HARD, Reason.ACCOUNT_DISABLED, enhanced="5.2.1"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="5.2.2"),
    Rule(SOFT, Reason.MAILBOX_FULL, enhanced="4.2.2"),
    Rule(SOFT, Reason.POLICY, enhanced="5.2.3"),  # message too big for the mailbox
    Rule(SOFT, Reason.POLICY, enhanced="5.3.4"),  # message too big for the system
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.4.4"),
    Rule(HARD, Reason.INVALID_DOMAIN, enhanced="5.4.310"),  # Exchange: DNS domain unknown
    Rule(SOFT, Reason.UNREACHABLE, enhanced="4.4."),
    Rule(SOFT, Reason.UNREACHABLE, enhanced="5.4.7"),  # delivery time expired
    Rule(SOFT, Reason.UNREACHABLE, enhanced="4.3."),
    Rule(SOFT, Reason.POLICY, enhanced="5.6."),  # the content was refused
    Rule(HARD, Reason.ACCOUNT_DISABLED, enhanced="5.7.13"),  # user account disabled
    # 5.7.1 ("not authorized") is what many servers answer to every refusal; when its
    # words say the recipient does not exist (and nothing against the sender, read
    # first), the words decide: the address-specific rules below are tried with it.
    *[Rule(rule.failure_type, rule.reason, enhanced="5.7.1", pattern=rule.pattern)
      for rule in ADDRESS_TEXT],
    Rule(SOFT, Reason.POLICY, enhanced="5.7."),
    Rule(SOFT, Reason.POLICY, enhanced="4.7."),
]

# Evidence about the sender's side, read before any status code: when the words say the
# message, the sending host or the sender was refused, no code makes the failure the
# recipient's. Mailbox full comes first: "over quota (#5.1.1)" is a full mailbox.
MAILBOX_FULL_TEXT = Rule(SOFT, Reason.MAILBOX_FULL, pattern=_text(
    r"mailbox (is |was |currently )?full|full mailbox|mailfolder is full|over ?quota|"
    r"(?<!sending )(?<!daily )quota (exceeded|full|violation|usage)|disk quota|mail quota|"
    r"exceed(ed|s|ing)? (the |its |their |his |her )?(mailbox )?(storage|quota)|"
    r"exceeded storage allocation|insufficient (disk |storage )?space|"
    r"not enough (storage|disk )?space|does not have enough space|mailbox size limit|"
    r"mailbox would exceed|(disk|storage) space limit|space has been used up|"
    r"out of storage space|account storage limit|mailbox exceeds (the )?allowed size|"
    r"disc quota|exceeding (its|their) (mailbox )?quota|over the (allowed )?quota|"
    r"mailbox exceeded the local limit|(userdisk|domaindisk|reached disk) quota|"
    r"not sufficient disk space|boite du destinataire pleine|"
    r"mail file size exceeds the maximum size allowed for mail delivery|"
    r"too many messages (on the server|in (the|this) mailbox)|too much mail data|"
    r"용량.{0,6}(초과|부족)|(메일함|편지함|사서함).{0,6}(가득|꽉)|"
    r"容量.{0,8}(超え|オーバー|不足|一杯|いっぱい)|(メールボックス|メールボツクス).{0,6}"
    r"(いっぱい|一杯|満杯)"))

POLICY_TEXT = Rule(SOFT, Reason.POLICY, pattern=_text(
    # the sending host: block lists, reputation, reverse DNS, HELO, TLS
    r"black ?list|block ?list|deny ?list|blocked|\bbanned\b|(?<!not )listed (at|in|on|by) |"
    r"spamhaus|spamcop|\bsorbs\b|barracuda|dnsbl|\brbl\b|uribl|surbl|spamrats|abuseat|"
    r"reputation|sender score|unwanted (messages|mail|e-?mail)|\b(sc|dy|rp)-00\d\b|"
    r"\bib[0-9]{3}\b|ip not in whitelist|not authorized to send|credentials for relay|"
    r"rejected by recipient|rfc ?5322|not rfc compliant|accept mail from (you|your)|"
    r"allowed rcpthosts|but sender was rejected|but my name was rejected|"
    r"client host .{0,80}rejected|client host rejected|"
    r"reverse (dns|lookup|name)|\brdns\b|\bptr\b|cannot find your (hostname|reverse)|"
    r"(hostname|host name|ip address|ip name) .{0,30}(does not resolve|lookup failed)|"
    r"helo command rejected|invalid helo|bad helo|helo/ehlo|"
    r"dynamic ip|dial-?up|residential|generic dns|"
    r"not currently accepting mail from your ip|(your|sender|sending) ip|"
    r"ip address .{0,60}(rejected|refused|blocked|not allowed)|"
    r"(tls|starttls|encryption) (is )?required|requires? (tls|starttls|encryption)|"
    # the sender: its address, its domain, its authentication
    r"sender (address |domain )?(rejected|denied|refused|blocked|invalid|unknown|not "
    r"allowed|verify failed|verification)|(domain of )?sender address|sender domain|"
    r"envelope (sender|from)|(in reply to|after) mail from|null sender|bogus mail from|"
    r"unverified sender|"
    r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|not authenticated|"
    r"unauthenticated|authentication (failed|failure|required|problem)|"
    r"does not advertise auth|'send mail as'|"
    r"relay(ing)? (access )?(denied|not (permitted|allowed))|not permitted to relay|"
    r"unable to relay|relaying denied|not allowed to (relay|send)|"
    # the message: spam or content filters, size
    r"spam|unsolicited|bulk (mail|e-?mail)|\bjunk\b|phish|virus|malware|infected|"
    r"content (rejected|filter|denied)|message content|banned content|"
    r"unacceptable content|attachment|suspicious|"
    r"message (is |was )?too (big|large)|message size|size (limit|exceeds)|"
    r"exceeds (the )?(maximum|max|message|size)|too large|"
    # volume: rates and limits
    r"rate limit|rate-limit|ratelimit|receiving mail at a rate|rate that prevents|"
    r"too many (messages|connections|recipients|e-?mails|mails|concurrent)|"
    r"sending rate|(sending|daily|hourly) (quota|limit)|temporarily deferred|"
    r"user complaints|exceeded .{0,20}(rate|limit)|limit exceeded|throttl|unusual rate|"
    # policy in its own words, greylisting
    r"policy (reasons|violation|rejection)|local policy|for policy reasons|"
    # the recipient's own filters refused the message (not the address)
    r"recipient('s)? (preferences|filter)|email preferences of the person|"
    r"not accepting (mail|messages) (with|from)|only accepting mail from specific|"
    r"is not accepting any mail|resolver\.rst\.notauthorized|this account is protected by|"
    r"user reject|refuse to receive mail|blocked by the recipient|"
    r"administrative prohibition|grey ?list|gray ?list|"
    r"스팸|차단|수신\s?거부|受信拒否|迷惑メール|拒否"))

SOFT_TEXT: list[Rule] = [
    Rule(SOFT, Reason.UNREACHABLE, pattern=_text(
        r"connection (timed out|refused|reset|dropped|closed)|timed out|could not connect|"
        r"network is unreachable|host (is )?unreachable|no route to host|lost connection|"
        r"did not accept our requests to connect|socket error|could not be reached|"
        r"(wasn'?t|was not) able to establish an smtp connection|"
        r"couldn'?t find a mail exchanger|greeting failed|"
        r"delivery (time )?expired|retry time(out)? (exceeded|not reached)|"
        r"temporarily (unavailable|deferred)|try again later|too many hops|mail loop|"
        r"loops back|routing loop|too many .received. headers|exceeded \d+ hops|"
        r"message is looping|in the queue too long|"
        r"delivery timeout|(envelope|message) (has )?expired|queue\.expired|"
        r"接続できません|タイムアウト|연결할 수 없|시간 초과")),
    Rule(SOFT, Reason.REFUSED, pattern=_text(
        r"not accepted|refused|거부")),
]

# What a reply means when nothing above explained it, by its basic code (SPEC §8).
CODE_RULES: list[Rule] = [
    Rule(SOFT, Reason.UNREACHABLE, code=421),  # the server is closing the session
    Rule(SOFT, Reason.NOT_DEFINED, enhanced="4."),  # any other transient reply
    # An unexplained refusal says nothing against the address itself.
    Rule(SOFT, Reason.NOT_DEFINED, enhanced="5."),
    Rule(SOFT, Reason.NOT_DEFINED),  # anything else (a bounce that quotes no usable code)
]

RULES: list[Rule] = [MAILBOX_FULL_TEXT, POLICY_TEXT, *ENHANCED_RULES, *ADDRESS_TEXT, *SOFT_TEXT,
                    *CODE_RULES]


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
