"""Transient replies and the quarantine, end to end (SPEC §5, §8): a real worker sends
into a real SMTP server that greylists, under a controlled clock, and the sending log
and the address's standing are read afterwards.

Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.bounces import services
from envoi.bounces.models import Quarantine
from envoi.deliveries import services as deliveries
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from tests.support.deliveries import boss
from tests.support.scenario import HTML, TEXT

pytestmark = pytest.mark.django_db

GREYLISTED = ("450 4.2.0 <grey@x.test>: Recipient address rejected: Greylisted, see "
              "http://postgrey.schweikert.ch/help/x.test.html")


def sending(label: str, **options) -> Delivery:
    """A delivery to every profile, confirmed and in progress."""
    audience = Audience.objects.filter(name="everyone").first() or Audience.objects.create(
        name="everyone", filter="")
    delivery = deliveries.create(boss(), label=label, sender="shop@example.com",
                                 subject=label, html_body=HTML, text_body=TEXT,
                                 audience=audience, **options)
    delivery = deliveries.prepare(boss(), delivery)
    assert delivery.status == "pending_approval", list(
        delivery.preparation_messages.values("message"))
    return deliveries.confirm(boss(), deliveries.approve(boss(), delivery))


def standing(address: str) -> str:
    record = Quarantine.objects.filter(address=address).first()
    return record.status if record else "valid"


def received(relay) -> list[str]:
    return sorted(rcpt for message in relay.messages for rcpt in message.rcpt_to)


def test_a_greylisted_address_is_retried_sent_and_never_quarantined(clock, relay, send_all):
    """Postfix greylisting answers the first attempt with a 450 that reads like an
    unknown recipient; the retry is accepted."""
    create_profiles([{"email": "grey@x.test", "first_name": "G"},
                     {"email": "ok@x.test", "first_name": "O"}])
    relay.script("grey@x.test", GREYLISTED, times=1)
    delivery = sending("Spring", max_retries=3, retry_delay_seconds=300)

    send_all()
    row = SendingLog.objects.get(address="grey@x.test")
    assert (row.status, row.attempts, row.failure_type, row.failure_reason) == (
        "pending", 1, "soft", "policy")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=300)
    # Greylisting is the receiving side's policy, not a fault of the address: not counted.
    assert standing("grey@x.test") == "valid"
    assert received(relay) == ["ok@x.test"]

    clock.advance(seconds=300)
    send_all()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.failure_type) == ("sent", 2, "")
    assert received(relay) == ["grey@x.test", "ok@x.test"]
    # It was never counted against the address, let alone quarantined.
    assert standing("grey@x.test") == "valid"
    assert not Quarantine.objects.filter(address="grey@x.test").exists()
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"


def test_a_send_accepted_by_the_server_releases_an_erroneous_address(clock, relay, send_all):
    """An address made erroneous by one delivery is valid again once a later delivery's
    message to it is accepted (SPEC §8), without waiting 30 days."""
    create_profiles([{"email": "full@x.test", "first_name": "F"}])
    relay.script("full@x.test", "552 5.2.2 <full@x.test>: Mailbox full", times=1)
    sending("First")
    send_all()
    first = SendingLog.objects.get(address="full@x.test")
    assert (first.status, first.failure_type, first.failure_reason) == (
        "failed", "soft", "mailbox_full")
    record = Quarantine.objects.get(address="full@x.test")
    assert (record.status, record.error_count, record.reason) == (
        "erroneous", 1, "mailbox_full")

    clock.advance(days=1)
    second = sending("Second")
    send_all()
    assert SendingLog.objects.get(delivery=second, address="full@x.test").status == "sent"
    record.refresh_from_db()
    assert (record.status, record.error_count, record.reason) == ("valid", 0, "success")
    assert received(relay) == ["full@x.test"]


def test_an_administrators_hard_rule_for_a_4xx_fails_the_row_at_once(relay, send_all):
    """A rule written for a 4xx reply is honoured: the failure is hard, so final (no
    retry to an address quarantined at once)."""
    create_profiles([{"email": "closed@x.test", "first_name": "C"}])
    services.add_rule(boss(), failure_type="hard", reason="account_disabled", smtp_code=450,
                      pattern="account closed")
    relay.script("closed@x.test", "450 4.2.1 <closed@x.test>: account closed")
    delivery = sending("Spring", max_retries=3)
    send_all()
    row = SendingLog.objects.get(address="closed@x.test")
    assert (row.status, row.attempts, row.failure_type, row.failure_reason) == (
        "failed", 1, "hard", "account_disabled")
    assert standing("closed@x.test") == "quarantined"
    assert Delivery.objects.get(pk=delivery.pk).status == "finished"
