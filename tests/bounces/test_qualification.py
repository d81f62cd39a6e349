"""The qualification table (SPEC §8): real replies through ``qualify`` as the sending
path reads them, what administrators' rules may and may not do to a transient reply,
the fallbacks listed as rows of the table, and transient statuses in bounces."""

from __future__ import annotations

import pytest

from envoi.bounces import services
from envoi.bounces.parsing import parse
from envoi.bounces.qualification import (
    HARD,
    RULES,
    SOFT,
    builtin_rules,
    is_transient_reply,
    qualify,
)
from envoi.sending.smtp import SmtpOutcome
from tests.bounces.mail import postfix_dsn
from tests.support.api import Api
from tests.support.deliveries import boss

pytestmark = pytest.mark.django_db

GREYLISTED = ("450 4.2.0 <kim@example.org>: Recipient address rejected: Greylisted, see "
              "http://postgrey.schweikert.ch/help/example.org.html")


def qualified(reply: str) -> tuple[str, str]:
    """Qualify a reply line exactly as the sending path receives it."""
    code, text = int(reply[:3]), reply[4:]
    outcome = SmtpOutcome.from_reply(code, text)
    result = qualify(outcome.code, outcome.enhanced, outcome.text)
    return result.failure_type, result.reason


@pytest.mark.parametrize(("reply", "expected"), [
    # The sender's address or domain refused: never the recipient's fault.
    ("553 5.1.8 <news@shop.example.com>: Sender address rejected: Domain not found",
     (SOFT, "policy")),
    ("550 5.1.7 Invalid sender address", (SOFT, "policy")),
    # Postfix's "Recipient address rejected:" before a refusal about the client.
    ("550 5.7.1 <kim@example.org>: Recipient address rejected: cannot find your reverse "
     "hostname, [203.0.113.10]", (SOFT, "policy")),
    ("550 5.1.1 <kim@example.org>: Recipient address rejected: Client host rejected: "
     "listed on zen.spamhaus.org", (SOFT, "policy")),
    # Codes read with their words: a rate limit, a block list, a disabled account.
    ("550 5.2.1 The user you are trying to contact is receiving mail at a rate that "
     "prevents additional messages from being delivered.", (SOFT, "policy")),
    ("554 5.1.3 bizsmtp IB401 Your IP address 203.0.113.10 is on a block list",
     (SOFT, "policy")),
    ("550 5.7.13 The user account is disabled", (HARD, "account_disabled")),
    ("550 5.2.1 The email account that you tried to reach is disabled.",
     (HARD, "account_disabled")),
    ("552 5.3.4 Message size exceeds fixed limit", (SOFT, "policy")),
    ("550 5.7.509 Access denied, sending domain does not pass DMARC verification",
     (SOFT, "policy")),
    ("421 4.7.28 Our system has detected an unusual rate of unsolicited mail",
     (SOFT, "policy")),
    # A vague code leaves the decision to the words.
    ("550 5.0.0 Address not found: the address couldn't be found", (HARD, "user_unknown")),
    ("550 5.1.1 user over quota (#5.1.1)", (SOFT, "mailbox_full")),
    ("550 User some.name (kim@example.org) not listed in Domino Directory",
     (HARD, "user_unknown")),
    # Postfix greylisting (postgrey): a policy deferral, not an unknown user.
    (GREYLISTED, (SOFT, "policy")),
    ("451 4.7.1 Greylisting in action, please come back later", (SOFT, "policy")),
    # RFC 5321's own wording for 450 (a busy or temporarily blocked mailbox).
    ("450 Requested mail action not taken: mailbox unavailable", (SOFT, "not_defined")),
    ("450 4.2.1 <kim@example.org>: mailbox unavailable, try again", (SOFT, "not_defined")),
    # Postfix verifying the address and not done yet.
    ("450 4.1.1 <kim@example.org>: Recipient address rejected: unverified address: "
     "host mx.example.org said: 550 5.1.1 User unknown", (SOFT, "not_defined")),
    ("451 4.3.0 Temporary lookup failure", (SOFT, "unreachable")),
    ("452 4.2.2 The email account that you tried to reach is over quota",
     (SOFT, "mailbox_full")),
    ("452 Mailbox full, try again later", (SOFT, "mailbox_full")),
    ("421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints",
     (SOFT, "policy")),
    ("421 Service not available, closing transmission channel", (SOFT, "unreachable")),
    # A 4xx code paired with a permanent status: the reply still says "try again".
    ("450 5.1.1 <kim@example.org>: User unknown in virtual mailbox table",
     (SOFT, "not_defined")),
    # A permanent code paired with a transient status (Exchange's expired queue).
    ("550 4.4.7 QUEUE.Expired; message expired", (SOFT, "unreachable")),
    ("550 5.1.1 <kim@example.org>: Recipient address rejected: User unknown",
     (HARD, "user_unknown")),
    ("550 Recipient address rejected: mailbox unavailable", (HARD, "user_unknown")),
    ("554 Transaction failed", (SOFT, "not_defined")),
    ("554 5.7.1 Service unavailable; client host blocked", (SOFT, "policy")),
    # The recipient's own filters refused the message: a 5.1.1 says nothing here.
    ("550 5.1.1 RCP-P2 Refused due to recipient preferences", (SOFT, "policy")),
    # Phrase families that say the address itself does not exist.
    ("550 Invalid final delivery userid: kim@example.org", (HARD, "user_unknown")),
    ("550 5.0.0 The recipient name is not recognized", (HARD, "user_unknown")),
    ("550 Error: No valid recipients for this MM", (HARD, "user_unknown")),
    # Our own sending setup refused (Google's "Send mail as" relay): never hard.
    ("550 Smtp server does not advertise AUTH capability", (SOFT, "policy")),
])
def test_replies_are_qualified(reply, expected):
    assert qualified(reply) == expected


HARD_WORDS = ["User unknown", "Recipient address rejected", "mailbox unavailable",
              "No such user here", "Domain not found", "Account disabled",
              "존재하지 않는 사용자", "宛先が見つかりません"]


@pytest.mark.parametrize("words", HARD_WORDS)
@pytest.mark.parametrize(("code", "enhanced"), [
    (421, ""), (450, ""), (451, ""), (452, ""), (450, "4.2.0"), (450, "4.1.1"),
    (451, "4.1.8"), (450, "5.1.1"), (550, "4.0.0"), (550, "4.2.1"),
])
def test_the_builtin_table_never_types_a_transient_reply_hard(code, enhanced, words):
    assert is_transient_reply(code, enhanced)
    assert qualify(code, enhanced, f"{code} {enhanced} <kim@example.org>: {words}"
                   ).failure_type == SOFT


def test_no_builtin_hard_rule_is_written_for_transient_replies():
    assert [rule for rule in RULES if rule.failure_type == HARD and rule.names_transient] == []


def test_no_reply_at_all_is_unreachable_whatever_the_rules_say():
    """Code 0: the relay could not be reached. A local error's text is not a reply, so no
    rule is tried on it, not even an administrator's pattern."""
    services.add_rule(boss(), failure_type="hard", reason="user_unknown", pattern="refused")
    assert qualify(0, "", "ConnectionRefusedError: [Errno 111] Connection refused") == (
        qualify(0, "", "TimeoutError: timed out"))
    assert qualify(0, "", "ConnectionRefusedError: [Errno 111] Connection refused"
                   ).failure_type == SOFT
    assert qualify(550, "", "550 Relaying refused").failure_type == HARD


# -- administrators' rules and transient replies -----------------------------------------


def test_a_broad_hard_rule_does_not_apply_to_transient_replies():
    """A pattern written with permanent failures in mind cannot quarantine an address on
    a greylisting: the rule is passed over and the built-in table decides."""
    services.add_rule(boss(), failure_type="hard", reason="user_unknown",
                      pattern="recipient address rejected")
    assert qualified("550 Recipient address rejected: access denied") == (HARD, "user_unknown")
    assert qualified(GREYLISTED) == (SOFT, "policy")
    # Nor does a hard rule on a permanent status that a 4xx reply happens to carry.
    services.add_rule(boss(), failure_type="hard", reason="account_disabled", enhanced="5.")
    assert qualified("554 Transaction failed") == (HARD, "account_disabled")
    assert qualified("450 5.1.1 User unknown") == (SOFT, "not_defined")


@pytest.mark.parametrize("rule", [
    {"smtp_code": 450, "pattern": "account closed"},
    {"enhanced": "4.1.1", "pattern": "account closed"},
    {"enhanced": "4."},
])
def test_a_hard_rule_that_names_a_transient_code_is_honoured(rule):
    """An administrator who knows a provider answers 4xx for addresses that will never
    work again may say so, for the replies the rule names."""
    services.add_rule(boss(), failure_type="hard", reason="account_disabled", **rule)
    assert qualified("450 4.1.1 <kim@example.org>: account closed") == (
        HARD, "account_disabled")


def test_a_class_rule_matches_replies_without_an_enhanced_code():
    services.add_rule(boss(), failure_type="soft", reason="refused", enhanced="4.")
    assert qualified("450 Requested mail action not taken: mailbox unavailable") == (
        SOFT, "refused")
    assert qualified("550 4.4.7 QUEUE.Expired; message expired") == (SOFT, "refused")
    assert qualified("554 Transaction failed") == (SOFT, "not_defined")


# -- the table as listed --------------------------------------------------------------


def test_the_basic_code_fallbacks_are_rows_of_the_listed_table():
    admin = Api("ada", "administration")
    listed = admin.ok(admin.get("/qualification-rules"))["builtin"]
    assert listed == builtin_rules()
    assert [row["position"] for row in listed] == list(range(1, len(RULES) + 1))
    fallbacks = [{k: row[k] for k in ("smtp_code", "enhanced", "pattern", "failure_type",
                                      "reason")} for row in listed[-4:]]
    assert fallbacks == [
        {"smtp_code": 421, "enhanced": "", "pattern": "", "failure_type": "soft",
         "reason": "unreachable"},
        {"smtp_code": 0, "enhanced": "4.", "pattern": "", "failure_type": "soft",
         "reason": "not_defined"},
        {"smtp_code": 0, "enhanced": "5.", "pattern": "", "failure_type": "soft",
         "reason": "not_defined"},
        {"smtp_code": 0, "enhanced": "", "pattern": "", "failure_type": "soft",
         "reason": "not_defined"},
    ]


# -- transient statuses in bounces ----------------------------------------------------


def dsn(status: str, diagnostic: str, action: str) -> bytes:
    original = (b"From: news@shop.example.com\r\nTo: kim@example.org\r\n"
                b"Subject: Spring\r\n\r\nHi\r\n")
    return postfix_dsn("b-1.aaaaaaaaaaaaaaaaaaaa@bounces.shop.example.com", original,
                       "kim@example.org", status, diagnostic, action)


def test_a_delay_warning_is_no_failure_whatever_its_words():
    parsed = parse(dsn("4.2.0", GREYLISTED, "delayed"))
    assert (parsed.kind, parsed.failure_type, parsed.reason) == ("delay", "ignored", "delayed")


@pytest.mark.parametrize(("status", "diagnostic", "reason"), [
    ("4.2.0", GREYLISTED, "policy"),
    ("4.0.0", "450 Requested mail action not taken: mailbox unavailable", "not_defined"),
    ("4.4.7", "delivery time expired, recipient address rejected", "unreachable"),
])
def test_a_failure_report_with_a_transient_status_is_soft(status, diagnostic, reason):
    """The remote server gave up after transient replies: nothing says the address
    does not exist."""
    parsed = parse(dsn(status, diagnostic, "failed"))
    assert (parsed.kind, parsed.address, parsed.failure_type, parsed.reason) == (
        "dsn", "kim@example.org", "soft", reason)


def plain_report(diagnostic: str, status: str = "5.0.0") -> bytes:
    """An RFC 3464 report whose notice does not quote the SMTP dialogue."""
    return f"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: b-1.aaaaaaaaaaaaaaaaaaaa@bounces.shop.example.com
Subject: Delivery Notification: Delivery has failed
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b0"

--b0
Content-Type: text/plain

Your message cannot be delivered to the following recipients:

  Recipient address: kim@example.org
  Diagnostic code: smtp; {diagnostic}

--b0
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; kim@example.org
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--b0--
""".encode()


@pytest.mark.parametrize(("diagnostic", "failure_type", "reason"), [
    ("550 5.7.1 User Unknown: kim@example.org", "soft", "refused"),
    ("550 5.7.1 <kim@example.org>: Recipient address rejected: User unknown",
     "hard", "user_unknown"),
    ("550 5.1.1 User Unknown: kim@example.org", "hard", "user_unknown"),
])
def test_unknown_user_words_under_a_policy_status_are_the_recipients_filter(
        diagnostic, failure_type, reason):
    """A 5.7 status says the server refused by policy; its "user unknown" is evidence
    against the address only when the reply answered the address itself (RCPT TO)."""
    parsed = parse(plain_report(diagnostic))
    assert (parsed.address, parsed.failure_type, parsed.reason) == (
        "kim@example.org", failure_type, reason)
