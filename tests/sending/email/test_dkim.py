"""DKIM: Envoi's signatures verify with an independent verifier (dkimpy), and break
when a signed header or the body is changed."""

from __future__ import annotations

import re

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from envoi.accounts.services import OPERATOR
from envoi.sending.email import keys
from envoi.sending.email.dkim import forget_signers, relaxed_body, relaxed_header, signer_for
from envoi.sending.email.models import DkimKey
from envoi.sending.render import DeliveryRenderer
from tests.support.deliveries import delivery_in

pytestmark = pytest.mark.django_db

KOREAN_SUBJECT = "{{ first_name }}님, 봄 신상품 (광고) — 최대 50% 할인"
KOREAN_HTML = ("<html><body><h1>안녕하세요 {{ first_name }}님</h1>\n"
               "    <p>봄 신상품을   소개합니다.\t<a href=\"https://shop.example.com/spring\">"
               "보기</a></p>  \n<p>수신거부: <a href=\"{{ unsubscribe_url }}\">여기</a></p>"
               "</body></html>\n\n")
KOREAN_TEXT = "안녕하세요 {{ first_name }}님\n봄 신상품을 소개합니다.  \n{{ unsubscribe_url }}\n"


@pytest.fixture(autouse=True)
def _fresh_signers():
    forget_signers()
    yield
    forget_signers()


def zone(domain: str) -> dict[bytes, bytes]:
    """The TXT records `envoi dkim create` prints, as a DNS server would serve them."""
    records = {}
    for key in DkimKey.objects.filter(domain__domain=domain):
        line = keys.dkim_zone_line(key)
        name, _, rest = line.partition(" IN TXT ")
        value = "".join(re.findall(r'"([^"]*)"', rest))  # the strings joined back
        records[name.encode("ascii")] = value.encode("ascii")
    return records


def verifies(message: bytes, records: dict[bytes, bytes], index: int) -> bool:
    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes:
        name = name.encode("ascii") if isinstance(name, str) else name
        return records.get(name if name.endswith(b".") else name + b".", b"")

    try:
        return dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc)
    except dkim.ValidationError:  # dkimpy raises for a body hash mismatch
        return False


def signed_korean_message(eight_bit: bool = True) -> bytes:
    delivery = delivery_in("editing", subject=KOREAN_SUBJECT, html_body=KOREAN_HTML,
                           text_body=KOREAN_TEXT)
    message = DeliveryRenderer(delivery).render(
        42, "jiwoo@example.net", {"first_name": "지우", "last_name": "김"})
    return message.data_8bit if eight_bit else message.data


def test_both_signatures_verify_for_korean_subjects_and_bodies():
    created = keys.create_keys(OPERATOR, "shop.example.com", "s2026")
    assert [(k.selector, k.algorithm) for k in created] == [
        ("s2026-rsa", "rsa-sha256"), ("s2026-ed25519", "ed25519-sha256")]
    records = zone("shop.example.com")
    for eight_bit in (True, False):  # unencoded bodies, and the base64 form
        message = signed_korean_message(eight_bit)
        assert message.count(b"DKIM-Signature:") == 2
        assert b"a=rsa-sha256" in message and b"a=ed25519-sha256" in message
        assert verifies(message, records, 0) and verifies(message, records, 1)


def test_signatures_cover_the_one_click_unsubscribe_headers():
    keys.create_keys(OPERATOR, "shop.example.com", "s1")
    message = signed_korean_message()
    header = message.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
    signed = re.search(rb"h=([a-z:-]+);", header).group(1).split(b":")
    for name in (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
                 b"content-type", b"list-unsubscribe", b"list-unsubscribe-post"):
        assert name in signed
    assert b"c=relaxed/relaxed" in header


def test_a_tampered_header_or_body_fails_verification():
    keys.create_keys(OPERATOR, "shop.example.com", "s1")
    records = zone("shop.example.com")
    message = signed_korean_message()
    head, body = message.split(b"\r\n\r\n", 1)
    tampered_subject = re.sub(rb"\r\nSubject: [^\r]*(\r\n [^\r]*)*",
                              b"\r\nSubject: You won a prize", head) + b"\r\n\r\n" + body
    assert tampered_subject != message
    added_from = head + b"\r\nFrom: ceo@shop.example.com\r\n\r\n" + body
    tampered_body = head + b"\r\n\r\n" + body.replace("신상품".encode(), "가짜".encode(), 1)
    assert tampered_body != message
    for index in (0, 1):
        assert verifies(message, records, index)
        assert not verifies(tampered_subject, records, index)
        assert not verifies(added_from, records, index), "From is oversigned"
        assert not verifies(tampered_body, records, index)


def test_rotation_signs_with_the_new_selector_and_retired_keys_sign_nothing():
    keys.create_keys(OPERATOR, "shop.example.com", "old")
    keys.create_keys(OPERATOR, "shop.example.com", "new")
    records = zone("shop.example.com")
    message = signed_korean_message()
    assert b"s=new-rsa;" in message and b"s=new-ed25519;" in message
    assert b"s=old-" not in message
    assert verifies(message, records, 0) and verifies(message, records, 1)
    keys.retire_selector(OPERATOR, "shop.example.com", "new")
    forget_signers()
    assert b"s=old-rsa;" in signed_korean_message()
    keys.retire_selector(OPERATOR, "shop.example.com", "old")
    forget_signers()
    assert signer_for("shop.example.com") is None
    assert b"DKIM-Signature" not in signed_korean_message()


def test_private_keys_are_encrypted_under_the_secret_key(settings):
    key = keys.create_keys(OPERATOR, "shop.example.com", "s1")[0]
    stored = DkimKey.objects.get(pk=key.pk).private_key
    assert b"PRIVATE KEY" not in stored.encode() and len(stored) > 1000
    settings.SECRET_KEY = "another secret"
    forget_signers()
    with pytest.raises(keys.DkimError, match="ENVOI_SECRET_KEY changed"):
        keys.decrypt_private_key(stored, keys.key_id(key))
    assert signer_for("shop.example.com") is None, "an unusable key does not sign"


def test_bad_names_and_duplicate_selectors_are_refused():
    with pytest.raises(keys.DkimError, match="domain: 'not a domain'"):
        keys.create_keys(OPERATOR, "not a domain", "s1")
    with pytest.raises(keys.DkimError, match="selector:"):
        keys.create_keys(OPERATOR, "example.com", "bad_selector!")
    keys.create_keys(OPERATOR, "Example.COM.", "s1")
    with pytest.raises(keys.DkimError, match="has selector 's1' already"):
        keys.create_keys(OPERATOR, "example.com", "s1")
    assert DkimKey.objects.count() == 2


def test_zone_lines_split_long_values_into_quoted_strings():
    rsa_key, ed_key = keys.create_keys(OPERATOR, "example.com", "s1")
    line = keys.dkim_zone_line(rsa_key)
    assert line.startswith('s1-rsa._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=')
    strings = re.findall(r'"([^"]*)"', line)
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert keys.dkim_zone_line(ed_key).count('"') == 2


@pytest.mark.parametrize(("body", "canonical"), [
    (b"", b""),
    (b"\r\n\r\n", b""),
    (b"a  b\t c \r\n\r\n", b"a b c\r\n"),
    (b" x\r\n \r\ny", b" x\r\n\r\ny\r\n"),
])
def test_relaxed_body_canonicalization(body, canonical):
    assert relaxed_body(body) == canonical


def test_sent_messages_and_proofs_arrive_signed(relay, send_all):
    """Through the real worker and the real proof path into a real SMTP server."""
    from envoi.deliveries import services
    from envoi.sending.proofs import send_proof
    from tests.support.deliveries import boss

    keys.create_keys(OPERATOR, "shop.example.com", "s1")
    records = zone("shop.example.com")
    delivery = delivery_in("approved", subject=KOREAN_SUBJECT, html_body=KOREAN_HTML,
                           text_body=KOREAN_TEXT)
    send_proof(delivery, addresses=["proof@example.net"])
    services.confirm(boss(), delivery)
    send_all()
    received = relay.messages
    assert len(received) > 2
    for message in received:
        assert verifies(message.data, records, 0), message.rcpt_to
        assert verifies(message.data, records, 1), message.rcpt_to
    assert any(b"[Proof 1]" in m.data or "[Proof 1]" in str(m.parsed()["Subject"])
               for m in received)


@given(st.lists(st.sampled_from([b" ", b"\t", b"  ", b"a", "한".encode(), b"\r\n", b".",
                                 b"\r\n\r\n", b"\t \t"]), max_size=60).map(b"".join))
def test_relaxed_body_is_dkimpys(body):
    """Byte for byte what the independent implementation makes of CRLF text."""
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


@given(st.text(alphabet=" \tab:한=?", max_size=40), st.sampled_from(["Subject", "TO", "x-y"]))
def test_relaxed_header_is_dkimpys(value, name):
    folded = value.replace("  ", "\r\n  ", 1).encode()
    (canonical,) = Relaxed.canonicalize_headers([(name.encode(), folded + b"\r\n")])
    assert relaxed_header(name.encode() + b":" + folded + b"\r\n") == (
        canonical[0] + b":" + canonical[1])
