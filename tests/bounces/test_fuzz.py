"""Malformed mail never breaks the bounce path: whatever arrives is kept, byte for
byte, and listed (hypothesis generates the MIME; the listener gets a sample over SMTP)."""

from __future__ import annotations

import re
import smtplib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envoi.bounces.ingest import receive
from envoi.bounces.models import InboundMessage

OUTCOMES = {"matched", "unmatched", "unparseable"}

header_names = st.sampled_from([
    "Content-Type", "Content-Transfer-Encoding", "Subject", "From", "To", "Delivered-To",
    "Auto-Submitted", "X-Failed-Recipients", "Final-Recipient", "Action", "Status",
    "Diagnostic-Code", "Original-Rcpt-To", "Feedback-Type", "MIME-Version", "Return-Path"])
content_types = st.sampled_from([
    "multipart/report; report-type=delivery-status; boundary=\"B\"",
    "multipart/report; report-type=feedback-report; boundary=B",
    "multipart/mixed; boundary=", "multipart/alternative", "message/delivery-status",
    "message/rfc822", "text/rfc822-headers", "message/feedback-report",
    "text/plain; charset=iso-2022-jp", "text/plain; charset=x-unknown-charset",
    "text/plain; charset=\"euc-kr", "multipart/report; boundary=\"B\"; report-type=",
    "application/octet-stream", "text/html; charset=ks_c_5601-1987"])
encodings = st.sampled_from(["base64", "quoted-printable", "7bit", "8bit", "x-uuencode",
                             "binary", "base65"])
fragments = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([
        b"--B\r\n", b"--B--\r\n", b"\r\n\r\n", b"Final-Recipient: rfc822; a@example.com\r\n",
        b"Action: failed\r\nStatus: 5.1.1\r\n", b"Diagnostic-Code: smtp; 550 5.1.1 x\r\n",
        b"=?utf-8?B?7ZWc6rWt?=", b"=?iso-2022-jp?B?GyRCJTUbKEI=?=", b"\x1b$B", b"=\r\n=ZZ",
        b"Content-Type: message/rfc822\r\n\r\n", b"b-1a.aaaaaaaaaaaaaaaaaaaa@bounces.example",
        b"\x00", b"\xff\xfe", b"Subject: \xe5\x9b\x9e\r\n", b"<" * 50, b"=?utf-8?Q?=E3=81?="]))


@st.composite
def malformed_mime(draw) -> bytes:
    headers = draw(st.lists(st.tuples(header_names, st.one_of(content_types, encodings,
                                                                st.text(max_size=60))),
                            max_size=8))
    head = b"".join(f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\r\n"
                    for name, value in headers)
    body = b"".join(draw(st.lists(fragments, max_size=12)))
    return head + draw(st.sampled_from([b"\r\n", b"", b"\n"])) + body


@pytest.mark.django_db
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.one_of(malformed_mime(), st.binary(max_size=2000)))
def test_any_input_is_kept_and_never_raises(raw):
    inbound = receive(raw, "", ["b-1a.aaaaaaaaaaaaaaaaaaaa@bounces.example"])
    stored = InboundMessage.objects.get(pk=inbound.pk)
    assert bytes(stored.raw) == raw
    assert stored.outcome in OUTCOMES


@pytest.mark.django_db(transaction=True)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=malformed_mime())
@example(raw=b"\r\n\n.\r\n")
def test_the_listener_takes_malformed_mail_over_smtp(listener, bounce_domain, raw):
    """Over SMTP each message is kept as it arrived (the client ends it with CRLF)."""
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as client:
        client.ehlo("mx.example.net")
        client.mail("")
        client.rcpt(f"b-1a.aaaaaaaaaaaaaaaaaaaa@{bounce_domain}")
        code, reply = client.data(raw)
    assert code == 250, reply
    stored = InboundMessage.objects.get(pk=int(reply.decode().rsplit(" ", 1)[1]))
    assert stored.outcome in OUTCOMES
    sent = raw if raw.endswith(b"\r\n") else raw + b"\r\n"
    # smtplib stuffs a dot after any LF, the server unstuffs it only after CRLF (RFC
    # 5321): a line that starts after a bare LF arrives with the dot smtplib added.
    on_the_wire = re.sub(rb"(?m)^\.", b"..", sent)
    assert bytes(stored.raw) == re.sub(rb"(\A|\r\n)\.", rb"\1", on_the_wire)


@pytest.mark.django_db(transaction=True)
def test_the_listener_is_no_open_relay(listener, bounce_domain):
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as client:
        client.ehlo("mx.example.net")
        client.mail("someone@example.com")
        assert client.rcpt("victim@example.org")[0] == 550
        assert client.rcpt(f"B-anything@{bounce_domain.upper()}")[0] == 250
