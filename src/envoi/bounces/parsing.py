"""Read a message that came back: what it is, which addresses failed, why, and which
message of ours it answers.

Five shapes are recognised, tried in this order:

1. **Feedback reports** (ARF, RFC 5965): ``multipart/report; report-type=feedback-report``,
   a spam complaint about one of our messages; also Outlook.com's complaints that are
   not ARF (from staff@hotmail.com, the original carrying ``X-HmXmrOriginalRecipient``).
2. **Email services' JSON notifications sent as mail**: Amazon SES bounce, complaint and
   delivery notifications delivered by SNS to a mailbox (:mod:`providers`).
3. **Delivery status notifications** (RFC 3464): ``multipart/report;
   report-type=delivery-status``, one block per recipient with its Action, Status and
   Diagnostic-Code. ``Action: delayed`` is a warning, not a failure; ``delivered``,
   ``relayed``, ``expanded`` and Postfix's address-verification ``deliverable`` (or a
   2.x.x status) are no failure at all.
4. **Non-standard bounces** (qmail, older Exim and Sendmail, Domino, Yahoo, Korean and
   Japanese providers): a failure notice in plain text. flufl.bounce finds the failed
   addresses where it knows the format; the reply code and text are read from the part
   of the notice about each address.
5. **Auto-replies** (out of office, vacation; RFC 3834 ``Auto-Submitted: auto-replied``
   and the usual non-standard headers and subjects): ignored.

Anything else is ``unknown``.

**One reading per recipient.** A report about several recipients is read once for each
(:attr:`Parsed.recipients`), from that recipient's own Status, reply code and
diagnostic or, when it has none, from the paragraph of the notice that names it, never
from another recipient's. :meth:`Parsed.about` gives the reading of one address, which
is what :mod:`ingest` applies to that address's row. When a recipient's ``Status:``
and the code its diagnostic quotes disagree, the quoted code wins (the remote server's
own words; the Status is what the reporting MTA derived from them), unless it is vaguer
(x.y.0); the qualification table then weighs codes against words
(:mod:`envoi.bounces.qualification`). A refusal that answered the message after DATA
with "unknown user" is not evidence against the address (:func:`refused_after_data`),
nor is "unknown user" under a 5.7 (policy) status or from a Japanese carrier unless the
reply answered the address itself at RCPT TO (:func:`policy_status`,
:func:`carrier_filter`).
The failed address is never the notice's or the original's sender, a daemon, one of
our return paths nor a message id.

The message that came back names its sending-log row through our per-recipient return
path (the envelope recipient, a ``Delivered-To``-like header, or the returned
original's ``Return-Path``) or, in a complaint, the signed unsubscribe link of the
original. Candidates are only collected here; :mod:`ingest` verifies their signatures.

Text parts are decoded with their declared charset (ISO-2022-JP, EUC-KR, Shift_JIS,
UTF-8, with base64 or quoted-printable), so Korean and Japanese notices without any
status code are qualified from their own words. Only the notice is read for the
reason, never the returned original (whose marketing text could say "spam").
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from envoi.bounces.addresses import (
    ADDRESS,
    DAEMONS,
    UNSUBSCRIBE,
    first_address,
    return_paths,
    typed_address,
)
from envoi.bounces.providers import Notification, find_json, ses_notification
from envoi.bounces.qualification import HARD, IGNORED, SOFT, Qualification, Reason, qualify

# flufl.bounce logs every detector that trips on malformed mail as an error; such mail
# is kept and listed as unparseable, so those logs would only be noise.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

SCAN_LIMIT = 64 * 1024  # characters of a notice searched for codes and addresses
# Bytes of a message given to the MIME parser. A notice and its report come first; the
# rest is the returned original, whose return path is found by a scan of all the bytes.
# The standard parser costs ~20 µs per line of a report part, so this also bounds what a
# hostile message can cost the listener (a few seconds at worst).
PARSE_LIMIT = 256 * 1024
# Reply codes of a failure (a success, "250 2.1.0 Ok" in a transcript, is never the
# reason a message came back).
BASIC_CODE = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)(?:#?([245]\.\d{1,3}\.\d{1,3}))?")
ENHANCED_CODE = re.compile(r"(?<![\d.])([45]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
STATUS_CODE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")  # Status:
BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed|failed)|failure notice|"
    r"returned mail|mail delivery (failed|failure|system)|could not be delivered|"
    r"non.?delivery|delivery error|not delivered|mail system error|rejected|bounce|"
    r"配送|配信|送信できません|届きませんでした|エラー|返送|"
    r"반송|전달\s?실패|배달\s?실패|전송\s?실패|발송\s?실패|되돌아|수신\s?실패",
    re.IGNORECASE)
DELAY_SUBJECT = re.compile(r"delay|warning|still being|not yet been delivered|遅延|지연",
                           re.IGNORECASE)
AUTO_REPLY_SUBJECT = re.compile(
    r"^(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|auto:|"
    r"autoreply|vacation|away from|abwesenheit|absence|自動応答|自動返信|不在|"
    r"부재중|자동\s?(응답|회신))", re.IGNORECASE)
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Vacation")
# Where a notice stops and the returned original message begins.
ORIGINAL_MARKERS = re.compile(
    r"^[ \t]*(-+ ?(this is a copy of|below this line is a copy|original message|"
    r"the header of the original|returned message|undelivered message)|"
    r"-+[ \t]*(original|returned) message|original message follows|"
    r"--- below this line|元のメッセージ|원본 메시지|以下.{0,10}元のメール)",
    re.IGNORECASE | re.MULTILINE)
# Real-world names of charsets, mapped to the codec that reads what servers really send.
CHARSET_ALIASES = {"ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932",
                   "windows-31j": "cp932", "iso-2022-jp": "iso2022_jp_ext",
                   "x-sjis": "cp932", "unknown-8bit": "utf-8"}


@dataclass
class Finding:
    """One failed (or warned-about) recipient named in a notice."""

    address: str = ""
    action: str = "failed"
    code: int = 0
    enhanced: str = ""
    diagnostic: str = ""


@dataclass
class Reading:
    """What a report says about one recipient, read from that recipient's own status,
    reply code and diagnostic."""

    address: str
    failure_type: str
    reason: str
    status_code: str = ""
    diagnostic: str = ""


@dataclass
class Parsed:
    kind: str = "unknown"
    address: str = ""
    failure_type: str = ""
    reason: str = ""
    status_code: str = ""
    diagnostic: str = ""
    subject: str = ""
    return_paths: list[str] = field(default_factory=list)
    unsubscribe_tokens: list[str] = field(default_factory=list)
    # Every recipient the report names, in its order; the fields above are the first
    # failed one (or the first of all), for reports about a single recipient.
    recipients: list[Reading] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        return self.kind != "unknown"

    def about(self, address: str) -> Parsed:
        """This report as it concerns one address (a multi-recipient report names
        several; each keeps its own reading)."""
        wanted = address.strip().lower()
        for reading in self.recipients:
            if reading.address == wanted and reading.address != self.address:
                return replace(self, address=reading.address,
                               failure_type=reading.failure_type, reason=reading.reason,
                               status_code=reading.status_code,
                               diagnostic=reading.diagnostic)
        return self


def parse(raw: bytes, envelope_rcpts: list[str] | tuple[str, ...] = ()) -> Parsed:
    """Read one received message. Malformed MIME may raise; :mod:`ingest` keeps it."""
    message = message_from_bytes(raw[:PARSE_LIMIT], policy=compat32)
    notice, originals = split_report(message)
    parsed = (complaint(message, notice, originals) or provider_json(message, notice)
              or dsn(message, notice) or auto_reply(message, strong_only=True)
              or nonstandard(message, notice, originals)
              or auto_reply(message) or Parsed())
    parsed.subject = header_text(message, "Subject")[:500]
    parsed.return_paths = return_paths(message, raw, envelope_rcpts)
    parsed.unsubscribe_tokens = [t.decode().lower() for t in UNSUBSCRIBE.findall(raw)]
    return parsed


# -- the structure of a report --------------------------------------------------------


@dataclass
class Notice:
    """The parts of a received message outside any returned original."""

    texts: list[str] = field(default_factory=list)
    reports: dict[str, Message] = field(default_factory=dict)  # content type -> part

    @property
    def text(self) -> str:
        joined = "\n".join(self.texts)
        marker = ORIGINAL_MARKERS.search(joined)
        return (joined[:marker.start()] if marker else joined)[:SCAN_LIMIT]


def split_report(message: Message) -> tuple[Notice, list[Message]]:
    """The notice (its decoded texts and machine-readable report parts) and the returned
    originals (``message/rfc822`` or ``text/rfc822-headers`` parts)."""
    notice, originals = Notice(), []
    stack = [message]
    while stack:
        part = stack.pop(0)
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            originals.append(part)
        elif kind in ("message/delivery-status", "message/feedback-report",
                      "message/global-delivery-status"):
            notice.reports.setdefault(kind.replace("global-", ""), part)
        elif part.is_multipart():
            stack[0:0] = [p for p in part.get_payload() if isinstance(p, Message)]
        elif part.get_content_maintype() in ("text", "multipart") or part is message:
            # A multipart whose boundary could not be read (a parameter on an
            # unindented line) is left as text: the notice is in it.
            notice.texts.append(decoded_text(part))
    return notice, originals


def decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = (part.get_content_charset() or "utf-8").lower()
    try:
        codec = codecs.lookup(CHARSET_ALIASES.get(charset, charset)).name
    except LookupError:
        codec = "utf-8"
    return payload.decode(codec, errors="replace")


def header_text(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # an undecodable encoded-word: keep it as written
        return str(value)


def report_fields(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or feedback report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = decoded_text(part).replace("\r\n", "\n")
    return [message_from_bytes(block.encode("utf-8", "replace"), policy=compat32)
            for block in re.split(r"\n[ \t\r]*\n", text) if block.strip()]


def field_value(block: Message, name: str) -> str:
    return re.sub(r"\s+", " ", str(block.get(name, "") or "")).strip()


# -- the shapes -----------------------------------------------------------------------


def complaint(message: Message, notice: Notice, originals: list[Message]) -> Parsed | None:
    report = notice.reports.get("message/feedback-report")
    if (report is None and message.get_param("report-type") != "feedback-report"
            and not hotmail_complaint(message, originals)):
        return None
    blocks = report_fields(report) if report is not None else []
    fields = blocks[0] if blocks else None
    address = typed_address(field_value(fields, "Original-Rcpt-To")) if fields else ""
    if not address:
        address = original_recipient(originals)
    feedback_type = field_value(fields, "Feedback-Type").lower() if fields else "abuse"
    return Parsed(kind="complaint", address=address, failure_type="hard",
                  reason=Reason.COMPLAINT, diagnostic=f"feedback-type: {feedback_type}"[:500],
                  recipients=[Reading(address, "hard", Reason.COMPLAINT)] if address else [])


COMPLAINT_SENDERS = re.compile(r"^staff@hotmail\.com$|^abuse@|^fbl@|^feedbackloop@|"
                               r"^complaints?@", re.IGNORECASE)


def hotmail_complaint(message: Message, originals: list[Message]) -> bool:
    """Outlook.com (Hotmail) sends complaints that are not ARF: a message from
    staff@hotmail.com carrying the reported message, whose headers name the complaining
    recipient (``X-HmXmrOriginalRecipient``)."""
    sender = parseaddr(str(message.get("From", "")))[1]
    subject = header_text(message, "Subject").lower()
    if not originals:
        return False
    if any(original_headers(o).get("X-HmXmrOriginalRecipient") for o in originals):
        return True
    return bool(COMPLAINT_SENDERS.match(sender)) and ("complaint" in subject
                                                      or "abuse report" in subject)


def provider_json(message: Message, notice: Notice) -> Parsed | None:
    """An email service's JSON notification sent as mail (Amazon SES through SNS)."""
    body = "\n".join(notice.texts).lstrip()
    if not body.startswith("{"):
        return None
    document = find_json(body)
    notification = ses_notification(document) if document is not None else None
    return notification_reading(notification) if notification is not None else None


def notification_reading(notification: Notification) -> Parsed | None:
    """A provider's notification (SES, SendGrid, Mailgun, Postmark) read like a report:
    each recipient's own status and diagnostic through the qualification table."""
    if not notification.recipients:
        return None
    if notification.event == "complaint":
        readings = [Reading(r["address"], "hard", Reason.COMPLAINT,
                            diagnostic=f"feedback-type: {notification.feedback_type}"[:500])
                    for r in notification.recipients if r.get("address")]
        if not readings:
            return None
        first = readings[0]
        return Parsed(kind="complaint", address=first.address, failure_type="hard",
                      reason=Reason.COMPLAINT, diagnostic=first.diagnostic,
                      recipients=readings)
    findings = []
    for recipient in notification.recipients:
        action = {"delivery": "delivered", "delay": "delayed"}.get(
            notification.event, recipient.get("action", "failed").lower())
        finding = Finding(address=recipient["address"], action=action,
                          enhanced=recipient.get("status", ""),
                          diagnostic=recipient.get("diagnostic", "")[:500])
        diagnostic = finding.diagnostic
        read_codes(finding, diagnostic.split(";", 1)[1] if ";" in diagnostic else diagnostic)
        if notification.event == "bounce" and not notification.permanent:
            # The provider will not retry but the failure is transient: never hard.
            finding.code = 450 if finding.code >= 500 or not finding.code else finding.code
        findings.append(finding)
    return reading_of("bounce", findings, "")


def original_headers(original: Message) -> Message:
    """The header block of a returned original (a message part or bare headers)."""
    payload = original.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if original.get_content_type() != "message/rfc822":
        return message_from_bytes(decoded_text(original).encode("utf-8", "replace"),
                                  policy=compat32)
    return original


def original_recipient(originals: list[Message]) -> str:
    for original in originals:
        headers = original_headers(original)
        values = [str(v) for v in headers.get_all("X-HmXmrOriginalRecipient", [])]
        values += [str(v) for v in headers.get_all("To", [])]
        for _, address in getaddresses(values):
            if ADDRESS.fullmatch(address):
                return address.lower()
    return ""


def dsn(message: Message, notice: Notice) -> Parsed | None:
    report = notice.reports.get("message/delivery-status")
    if report is None:
        return None
    findings = [dsn_finding(block) for block in report_fields(report)
                if block.get("Final-Recipient") or block.get("Original-Recipient")]
    if not findings:
        return None
    if len(findings) == 1 and not findings[0].address:
        findings[0].address = first_address(notice.text, exclude=senders(message))
    return reading_of("dsn", findings, notice.text)


def dsn_finding(block: Message) -> Finding:
    address = (typed_address(field_value(block, "Final-Recipient"))
               or typed_address(field_value(block, "Original-Recipient")))
    status = STATUS_CODE.search(field_value(block, "Status"))
    diagnostic = field_value(block, "Diagnostic-Code")
    diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic else diagnostic
    action = field_value(block, "Action").lower()
    if not action and status:
        action = {"2": "delivered", "4": "delayed"}.get(status.group(1)[0], "failed")
    finding = Finding(address=address, action=action,
                      enhanced=status.group(1) if status else "", diagnostic=diagnostic[:500])
    read_codes(finding, diagnostic)
    return finding


def read_codes(finding: Finding, text: str) -> None:
    """Fill the basic and enhanced codes from a reply text. The code the remote server
    quoted in its own reply outranks the ``Status:`` field that the reporting MTA
    derived from it (a report may say ``Status: 5.1.1`` over "550 5.7.1 IP address
    blacklisted"); only a vague quoted code (x.y.0) leaves a precise status standing."""
    basic = BASIC_CODE.search(text)
    if basic and not finding.code:
        finding.code = int(basic.group(1))
    enhanced = basic.group(2) if basic and basic.group(2) else None
    if enhanced is None:
        found = ENHANCED_CODE.search(text)
        enhanced = found.group(1) if found else None
    if not enhanced:
        return
    if not finding.enhanced or not (enhanced.endswith(".0") and not
                                    finding.enhanced.endswith(".0")):
        finding.enhanced = enhanced


def reading_of(kind: str, findings: list[Finding], notice_text: str) -> Parsed:
    """One reading per recipient; the report's headline is its first failure."""
    addresses = [f.address for f in findings if f.address]
    parsed_each = [qualified(kind, f, notice_about(notice_text, f.address, addresses))
                   for f in findings]
    failed = [p for p in parsed_each if p.failure_type in (HARD, SOFT)]
    headline = replace((failed or parsed_each)[0])
    headline.recipients = [Reading(p.address, p.failure_type, p.reason, p.status_code,
                                   p.diagnostic) for p in parsed_each if p.address]
    return headline


def notice_about(text: str, address: str, addresses: list[str]) -> str:
    """The part of a notice about one recipient: everything when it names only one,
    else from where it names this address to where it names the next one (a notice
    about several recipients must not lend one's diagnostic to another)."""
    others = {a for a in addresses if a != address}
    if not others:
        return text
    lowered = text.lower()
    start = lowered.find(address) if address else -1
    if start < 0:
        return ""
    end = min([i for i in (lowered.find(o, start + len(address)) for o in others)
               if i >= 0] or [len(text)])
    return text[start:min(end, start + 2000)]


DELIVERED_ACTIONS = ("delivered", "relayed", "expanded", "deliverable")


def qualified(kind: str, finding: Finding, notice_text: str) -> Parsed:
    delayed = finding.action.startswith("delayed")
    if (delayed or finding.action.startswith(DELIVERED_ACTIONS)
            or (finding.enhanced.startswith("2.") and not finding.action.startswith("fail"))):
        return Parsed(kind="delay" if delayed else kind, address=finding.address,
                      failure_type=IGNORED, reason=Reason.DELAYED if delayed else "delivered",
                      status_code=finding.enhanced, diagnostic=finding.diagnostic)
    enhanced = finding.enhanced
    if finding.action.startswith("fail") and not finding.code and enhanced == "4.0.0":
        # The reporting MTA gave up and quoted no reply: its vague "try again" status
        # is no transient reply of the remote side; the words decide.
        enhanced = ""
    code = finding.code or (450 if enhanced.startswith("4") else 550)
    # Notices wrap long replies anywhere ("Unknown\nRecipient"): words are read with
    # their line breaks as spaces.
    words = " ".join(notice_text.split())
    text = " ".join((finding.diagnostic or words).split())
    result: Qualification = qualify(code, enhanced, text)
    if result.reason == Reason.NOT_DEFINED and finding.diagnostic and words:
        # The diagnostic alone said nothing useful; the notice's own words may.
        result = qualify(code, enhanced, words)
    if (refused_after_data(result, enhanced, notice_text)
            or carrier_filter(result, enhanced, finding, notice_text)
            or policy_status(result, enhanced, finding, notice_text)):
        result = Qualification(SOFT, Reason.REFUSED)
    status = " ".join(filter(None, [str(finding.code or ""), finding.enhanced]))
    return Parsed(kind=kind, address=finding.address, failure_type=result.failure_type,
                  reason=result.reason, status_code=status,
                  diagnostic=(finding.diagnostic or notice_line(notice_text))[:500])


# The notice says the refusal answered the message itself, not the recipient.
AFTER_DATA = re.compile(r"in reply to (end of )?data command|after (end of )?data\b|"
                        r"^\s*>>> data\s*$", re.IGNORECASE | re.MULTILINE)
ADDRESS_CODES = ("5.1.1", "5.1.10", "5.1.2", "5.1.3", "5.1.6", "5.4.4")


# Japanese mobile carriers: their MXes answer "unknown user" both for an address that
# does not exist and for a recipient whose filter refuses the sender's domain.
CARRIER_DOMAIN = re.compile(r"@(.+\.)?(docomo\.ne\.jp|ezweb\.ne\.jp|au\.com|softbank\.ne\.jp|"
                            r"i\.softbank\.jp|vodafone\.ne\.jp|pdx\.ne\.jp|willcom\.com|"
                            r"emnet\.ne\.jp|y-?mobile\.ne\.jp)$", re.IGNORECASE)
# The reply answered the recipient itself: the notice says so, or the reply names the
# address the way a server refusing it at RCPT TO does ("550 <ada@...>: User unknown";
# the same server refusing the message after DATA says "550 : User unknown").
AT_RCPT = re.compile(r"rcpt to|<[^<>@\s]+@[^<>\s]+>:", re.IGNORECASE)


def carrier_filter(result: Qualification, enhanced: str, finding: Finding,
                   notice_text: str) -> bool:
    """A Japanese carrier's "unknown user" is evidence against the address only when it
    answered the recipient itself (at RCPT TO) or gave a precise status code; otherwise
    it is the recipient's filter refusing the message (as after DATA)."""
    return (result.failure_type == HARD and result.reason == Reason.USER_UNKNOWN
            and enhanced not in ADDRESS_CODES and bool(CARRIER_DOMAIN.search(finding.address))
            and not AT_RCPT.search(finding.diagnostic + "\n" + notice_text))


def policy_status(result: Qualification, enhanced: str, finding: Finding,
                  notice_text: str) -> bool:
    """A status of class 5.7 (security or policy) says the server refused by policy:
    "unknown user" words under it are the recipient's filter (some servers answer so
    for a sender they refuse), unless the reply answered the address itself at RCPT TO."""
    return (result.failure_type == HARD and result.reason == Reason.USER_UNKNOWN
            and enhanced.startswith("5.7.")
            and not AT_RCPT.search(finding.diagnostic + "\n" + notice_text))


def refused_after_data(result: Qualification, enhanced: str, notice_text: str) -> bool:
    """A server that accepted the recipient at RCPT TO and refused the message after
    DATA with "unknown user" is filtering the message (the Japanese carriers answer so
    when the recipient blocks a sender's domain): the words alone are then no evidence
    against the address. A precise status code (5.1.1...) still is."""
    return (result.failure_type == HARD and result.reason == Reason.USER_UNKNOWN
            and enhanced not in ADDRESS_CODES and bool(AFTER_DATA.search(notice_text)))


def nonstandard(message: Message, notice: Notice, originals: list[Message]) -> Parsed | None:
    sender = parseaddr(str(message.get("From", "")))
    subject = header_text(message, "Subject")
    from_daemon = bool(DAEMONS.match(sender[1]) or DAEMONS.match(sender[0] or ""))
    text = notice.text
    if not (from_daemon or BOUNCE_SUBJECT.search(subject) or message.get("X-Failed-Recipients")
            or failure_notice_body(text)):
        return None
    excluded = senders(message, originals)
    addresses = failed_addresses(message, text, excluded)
    if not addresses:
        return None
    findings = []
    for address in addresses:
        finding = Finding(address=address)
        read_codes(finding, notice_about(text, address, addresses))
        if DELAY_SUBJECT.search(subject):
            finding.action = "delayed"
        findings.append(finding)
    return reading_of("bounce", findings, text)


# A notice that says so in its first lines, whatever its sender and subject (some
# carriers send theirs from an ordinary address with a "Re:" subject).
FAILURE_WORDS = re.compile(r"invalid (user|recipient|address)|could not be delivered|"
                           r"undeliverable|delivery (has )?failed|failed permanently|"
                           r"permanent (fatal )?error|not (be )?delivered to", re.IGNORECASE)


# "Could not be delivered to: <ada@example.org>" (au/KDDI and other carriers name the
# failed recipient in the sentence itself, with no reply code).
FAILED_TO_ADDRESS = re.compile(r"(could not be delivered|undeliverable|delivery (has )?failed)"
                               r" to:?\s*<?[^\s@<>]+@", re.IGNORECASE)


def failure_notice_body(text: str) -> bool:
    """The notice's first lines say delivery failed and quote a failure reply code, or
    say to which address delivery failed."""
    head = text[:2000]
    return bool(FAILURE_WORDS.search(head) and BASIC_CODE.search(head)
                or FAILED_TO_ADDRESS.search(head))


def failed_addresses(message: Message, text: str, excluded: set[str]) -> list[str]:
    """The recipients a plain-text notice reports, in the order it names them: those
    flufl.bounce recognised (permanent failures first), else those of an
    ``X-Failed-Recipients`` header, else the first address the notice names that is
    neither a sender, a daemon, one of our return paths nor part of a message id."""
    temporary, permanent = flufl_failures(message)
    lowered = text.lower()

    def position(address: str) -> int:
        found = lowered.find(address)
        return found if found >= 0 else len(lowered)

    found = [a for a in sorted(permanent, key=position) if a not in excluded]
    if not found:
        found = [a for a in sorted(temporary, key=position) if a not in excluded]
    if not found:
        found = [typed_address(part) for part in
                 str(message.get("X-Failed-Recipients", "")).split(",")]
        found = [a for a in found if a and a not in excluded]
    if not found:
        first = first_address(text, exclude=excluded)
        found = [first] if first else []
    return list(dict.fromkeys(found))[:100]


def senders(message: Message, originals: Sequence[Message] = ()) -> set[str]:
    """Addresses a notice names that are not the failed recipient: the notice's own
    sender and the sender of the returned original (our sending address)."""
    found = {parseaddr(str(message.get(name, "")))[1].lower()
             for name in ("From", "Sender", "Reply-To")}
    for original in originals:
        headers = original_headers(original)
        found |= {parseaddr(str(headers.get(name, "")))[1].lower()
                  for name in ("From", "Sender", "Return-Path")}
    return {a for a in found if a}


def flufl_failures(message: Message) -> tuple[set[str], set[str]]:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector tripped on a malformed part: read the text ourselves
        return set(), set()

    def clean(found: frozenset) -> set[str]:
        addresses = (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
                     for a in found)
        return {a.strip("<> ").lower() for a in addresses if ADDRESS.fullmatch(a.strip("<> "))}

    return clean(temporary), clean(permanent)


def auto_reply(message: Message, strong_only: bool = False) -> Parsed | None:
    """An out-of-office or vacation reply. ``Auto-Submitted: auto-replied`` alone is a
    weak sign (Postfix and Exim put it on their bounces too), so it is only trusted once
    the message turned out to be no bounce; the other signs are trusted first."""
    sender = parseaddr(str(message.get("From", "")))
    if DAEMONS.match(sender[1]) or DAEMONS.match(sender[0] or ""):
        return None
    subject = header_text(message, "Subject")
    strong = (str(message.get("Precedence", "")).lower() == "auto_reply"
              or any(message.get(name) for name in AUTO_REPLY_HEADERS)
              or AUTO_REPLY_SUBJECT.search(subject.strip()))
    weak = str(message.get("Auto-Submitted", "")).lower().startswith("auto-replied")
    if not (strong or (weak and not strong_only)):
        return None
    address = sender[1].lower()
    return Parsed(kind="auto_reply", address=address, failure_type=IGNORED,
                  reason=Reason.AUTO_REPLY, diagnostic=subject[:500])


def notice_line(text: str) -> str:
    """The line of a notice that carries a reply code, or its first non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if BASIC_CODE.search(line) or ENHANCED_CODE.search(line):
            return line
    return lines[0] if lines else ""
