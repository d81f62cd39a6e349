"""Addresses in returned mail: which one failed, and which are our return paths.

A notice names many addresses: the failed recipients, but also the sender, message ids,
help desks ("please contact <support@...>") and our own return paths. The failed one is
looked for where notices name recipients; the others are left out by their context.
"""

from __future__ import annotations

import re
from email.message import Message

# The look-behind makes a search start only where a local part can start: without it,
# a long run of letters with no "@" costs quadratic time.
ADDRESS = re.compile(r"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])"
                     r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
RETURN_PATH = re.compile(rb"\bb-[0-9a-z]{1,13}(?:\.[0-9a-z]{1,13})*\.[a-z2-7]{20}@[A-Za-z0-9.-]+",
                         re.IGNORECASE)
UNSUBSCRIBE = re.compile(rb"/u/([0-9a-z]{1,13}(?:\.[0-9a-z]{1,13})*\.[a-z2-7]{20})\b",
                         re.IGNORECASE)
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To",
                    "X-Failed-Recipients", "Original-Recipient")
DAEMONS = re.compile(r"^(mailer-daemon|post_?master|mail-daemon|mailer_daemon|"
                     r"mail delivery (subsystem|system))", re.IGNORECASE)


def typed_address(value: str) -> str:
    """``rfc822; user@example.com`` → ``user@example.com``."""
    value = value.split(";", 1)[1] if ";" in value else value
    found = ADDRESS.search(value)
    return found.group(0).lower() if found else ""


# An address right after these words is a message id or a sender, not a recipient.
NOT_A_RECIPIENT = re.compile(r"(message[- ]?id|in-reply-to|references|\bid|mail from|"
                             r"envelope-from|\bfrom|sender|return-path)[\s:=<\"]*$",
                             re.IGNORECASE)


# Where a notice names a failed recipient: alone at the start of its line
# ("<ada@example.org>: host ... said", "  ada@example.org") or after words that
# introduce one ("Recipient: <...>", "RCPT To:<...>", "delivered to: <...>").
RECIPIENT_LEAD = re.compile(r"(^|\n)[ \t]*[\"<]?$|(recipient|rcpt to|delivered to|"
                            r"failed|address)[^\n:]{0,12}:[ \t]*[\"<]?$", re.IGNORECASE)
# A quoted header line of the returned original: the address on a "From:" or
# "Reply-To:" line is its sender, the one on a "To:" line its recipient.
SENDER_LINE = re.compile(r"[ \t>]*(from|sender|reply-to|return-path|errors-to|message-id|"
                         r"in-reply-to|references)[ \t]*:", re.IGNORECASE)
RECIPIENT_LINE = re.compile(r"[ \t>]*(to|envelope-to|x-failed-recipients|original-recipient)"
                            r"[ \t]*:", re.IGNORECASE)
# An address after these words is a help desk the notice points to.
HELP_DESK = re.compile(r"(contact|send mail to|write to|assistance|questions)[^\n]{0,40}$",
                       re.IGNORECASE)


def first_address(text: str, exclude: str | set[str] = "") -> str:
    """The address a notice reports as failed: the first one standing where notices
    name recipients, else the first on a quoted "To:" line, else the first one at all;
    leaving out the excluded ones, our return paths, daemons, message ids
    (``Message-ID: <1234.5678@host>``), senders (``MAIL FROM:<...>``, a quoted "From:"
    line) and help desks ("please contact <support@...>")."""
    excluded = {exclude.lower()} if isinstance(exclude, str) else exclude
    candidates: list[tuple[int, str]] = []
    for found in ADDRESS.finditer(text):
        address = found.group(0).lower().rstrip(".")
        if address in excluded or DAEMONS.match(address):
            continue
        if RETURN_PATH.fullmatch(address.encode()):
            continue
        before = text[max(0, found.start() - 60):found.start()]
        line = text[text.rfind("\n", 0, found.start()) + 1:found.start()]
        if (NOT_A_RECIPIENT.search(before[-20:]) or HELP_DESK.search(before)
                or SENDER_LINE.match(line)):
            continue
        # Where notices name failed recipients beats the "To:" line of a quoted
        # original (which may name others), which beats anywhere else.
        rank = 2 if RECIPIENT_LEAD.search(before) else 1 if RECIPIENT_LINE.match(line) else 0
        candidates.append((rank, address))
    best = max((rank for rank, _ in candidates), default=0)
    return next((address for rank, address in candidates if rank == best), "")


def return_paths(message: Message, raw: bytes, envelope_rcpts) -> list[str]:
    """Every address that may be one of our return paths, most trustworthy first: the
    envelope, the delivery headers, then anywhere in the message (a returned original's
    Return-Path)."""
    candidates = [str(rcpt) for rcpt in envelope_rcpts]
    for name in ENVELOPE_HEADERS:
        candidates += [str(value) for value in message.get_all(name, [])]
    found: list[str] = []
    sources = [c.encode("utf-8", "replace") for c in candidates] + [raw]
    for data in sources:
        for match in RETURN_PATH.findall(data):
            address = match.decode("ascii", "replace").lower()
            if address not in found:
                found.append(address)
    return found
