"""Rendering a recipient's message: personalization never breaks out of its header."""

from __future__ import annotations

import pytest

from envoi.sending.render import DeliveryRenderer
from envoi.tracking import tokens
from tests.support.deliveries import delivery_in
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db

HOSTILE = "Bob\r\nBcc: victim@example.com\r\n\r\nInjected body"


def test_personalized_headers_cannot_inject():
    delivery = delivery_in("editing", subject="Hi {{ attributes.nick }}!")
    renderer = DeliveryRenderer(delivery)
    message = renderer.render(7, "bob@example.net", {
        "first_name": HOSTILE, "last_name": "", "attributes": {"nick": HOSTILE}})
    parsed = parse(message.data)
    assert parsed["Bcc"] is None
    header_block = message.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block and b"Injected body\r\n" not in header_block
    assert parsed["Subject"] == "Hi Bob  Bcc: victim@example.com    Injected body!"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["bob@example.net"]
    assert all(len(line) <= 998 for line in message.data.split(b"\r\n"))
    # What the worker promises the SMTP client (send(..., transparent=True)):
    assert message.data.count(b"\n") == message.data.count(b"\r\n") == message.data.count(b"\r")
    assert message.data.endswith(b"\r\n") and b"\r\n." not in message.data


def test_return_path_and_message_id_name_the_row():
    delivery = delivery_in("editing")
    message = DeliveryRenderer(delivery).render(12345, "bob@example.net", {})
    assert tokens.row_of_return_path(message.mail_from) == 12345
    assert tokens.row_of_return_path(message.mail_from.upper()) == 12345, \
        "survives a mail system that upper- or lower-cases the local part"
    assert message.message_id.startswith(f"<{delivery.pk}.12345.envoi@")
