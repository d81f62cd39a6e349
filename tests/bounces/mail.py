"""Bounces as remote mail servers write them, about messages Envoi really sent, and a
way to hand them to the listener over SMTP."""

from __future__ import annotations

import smtplib
import uuid


def postfix_dsn(return_path: str, original: bytes, address: str, status: str,
                diagnostic: str, action: str = "failed") -> bytes:
    """A Postfix non-delivery (or delay) report, with the original attached."""
    boundary = f"{uuid.uuid4().hex}/mail.relay.example.net"
    subject = ("Delayed Mail (still being retried)" if action == "delayed"
               else "Undelivered Mail Returned to Sender")
    head = f"""Return-Path: <>
Delivered-To: {return_path}
Date: Mon, 05 Jan 2026 09:00:07 +0000 (UTC)
From: MAILER-DAEMON@mail.relay.example.net (Mail Delivery System)
Subject: {subject}
To: {return_path}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Message-Id: <{uuid.uuid4().hex}@mail.relay.example.net>

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.relay.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{address}>: host mx.example.com[198.51.100.5] said: {diagnostic}

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.relay.example.net
X-Postfix-Sender: rfc822; {return_path}

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message
Content-Type: message/rfc822

"""
    return crlf(head.encode()) + original + crlf(f"\n--{boundary}--\n".encode())


def arf_report(original: bytes, address: str, report_to: str) -> bytes:
    """A feedback-loop spam complaint (RFC 5965), sent to the feedback address."""
    boundary = f"fbl_{uuid.uuid4().hex}"
    head = f"""From: <feedback@arf.mail.yahoo.example>
To: {report_to}
Subject: FW: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 203.0.113.10.

--{boundary}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Rcpt-To: <{address}>

--{boundary}
Content-Type: message/rfc822

"""
    return crlf(head.encode()) + original + crlf(f"\n--{boundary}--\n".encode())


def auto_reply(sender: str, return_path: str) -> bytes:
    return crlf(f"""From: {sender}
To: {return_path}
Subject: Automatic reply: Spring
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday.
""".encode())


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(port: int, rcpt: str, data: bytes, mail_from: str = "") -> tuple[int, bytes]:
    """Hand one message to the listener over SMTP; the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("mx.relay.example.net")
        client.mail(mail_from)
        code, reply = client.rcpt(rcpt)
        assert code == 250, (code, reply)
        return client.data(data)
