"""Guards while sending: hard bounces past 5 %, complaints past 0.3 % or a provider's
block pause a delivery by themselves, audited and shown; resuming needs Start
deliveries."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import PermissionDenied, create_user
from envoi.bounces import ingest
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending import guards
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.bounces.mail import arf_report
from tests.support.deliveries import boss, prepared_delivery

pytestmark = pytest.mark.django_db

RECIPIENTS = 1000


def status(delivery: Delivery) -> str:
    delivery.refresh_from_db()
    return delivery.status


def guard_entries(delivery: Delivery) -> list[dict]:
    return [entry.detail for entry in AuditEntry.objects.filter(
        delivery_id=delivery.pk, action=guards.GUARD_PAUSE).order_by("id")]


def test_hard_bounces_past_five_percent_pause_the_delivery(relay, monkeypatch):
    monkeypatch.setenv("ENVOI_GUARD_MIN_MESSAGES", "200")
    delivery = prepared_delivery("gone", 2 * RECIPIENTS)
    for index in range(2 * RECIPIENTS):
        if index % 50 < 3:  # 6 % of the recipients are unknown to their mailbox provider
            relay.script(f"gone{index}@example.com", "550 5.1.1 User unknown")
    services.confirm(boss(), delivery)
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=100).run(until_idle=True)

    assert status(delivery) == "paused"
    (detail,) = guard_entries(delivery)
    assert detail["signal"] == "hard_bounces" and detail["threshold"] == 0.05
    assert 0.05 < detail["rate"] <= 0.08 and detail["processed"] >= 200
    processed = SendingLog.objects.filter(delivery=delivery).exclude(status="pending").count()
    assert processed < RECIPIENTS, "paused in the first half, not at the end"
    assert guards.guard_pause(delivery.pk)["signal"] == "hard_bounces"

    # The Deployment block says why, in the reader's language.
    client = Client()
    client.force_login(boss())
    page = client.get(f"/deliveries/{delivery.pk}/", headers={"accept-language": "en"})
    banner = page.content.decode().split('data-testid="guard-pause"', 1)[1].split("</p>")[0]
    assert "hard bounces for" in banner and "past the limit of 5" in banner, banner

    # Resuming is a person's decision, with Start deliveries; the guard then judges
    # only what is sent after it.
    preparer = create_user("preparer", ["prepare_deliveries"])
    with pytest.raises(PermissionDenied):
        services.resume(preparer, delivery)
    services.resume(boss(), delivery)
    assert guards.guard_pause(delivery.pk) is None
    monkeypatch.setenv("ENVOI_GUARD_HARD_BOUNCE_RATE", "0.5")
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=100).run(until_idle=True)
    assert status(delivery) == "finished"
    assert len(guard_entries(delivery)) == 1


def test_complaints_past_three_per_mille_pause_the_delivery(relay, monkeypatch, settings):
    monkeypatch.setenv("ENVOI_GUARD_MIN_MESSAGES", "100")
    delivery = prepared_delivery("angry", RECIPIENTS)
    services.confirm(boss(), delivery)
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=200)
    worker.run_once()
    worker.run_once()
    worker.close()
    sent = relay.messages
    assert len(sent) == 400 and status(delivery) == "in_progress"
    report_to = f"fbl@{settings.ENVOI_BOUNCE_DOMAIN}"

    def complain(message) -> None:
        (address,) = message.rcpt_to
        ingest.receive(arf_report(message.data, address, report_to), "", [report_to])

    complain(sent[0])  # 1 of 400: 0.25 %
    assert status(delivery) == "in_progress"
    complain(sent[0])  # the same row again counts once
    assert status(delivery) == "in_progress"
    complain(sent[1])  # 2 of 400: 0.5 %
    assert status(delivery) == "paused"
    (detail,) = guard_entries(delivery)
    assert detail["signal"] == "complaints" and detail["count"] == 2
    assert detail["processed"] == 400 and detail["threshold"] == 0.003


def test_a_provider_answering_with_soft_failures_pauses_the_delivery(relay, monkeypatch):
    monkeypatch.setenv("ENVOI_GUARD_MIN_MESSAGES", "200")  # a provider is judged from 20
    delivery = prepared_delivery("blocked", 300)
    for index in range(300):
        if index % 3 == 0:
            relay.script(f"blocked{index}@example.com",
                         "421 4.7.0 Try again later, too many messages from your IP")
    services.confirm(boss(), delivery)
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=50).run(until_idle=True)
    assert status(delivery) == "paused"
    (detail,) = guard_entries(delivery)
    assert detail["signal"] == "provider_soft_failures"
    assert detail["provider"] == "example.com" and detail["rate"] > 0.2


def test_hard_bounces_reported_by_dsn_count_too(relay, monkeypatch):
    """Accepted by the relay, bounced later by the mailbox provider: the DSNs fail the
    rows hard, and the bounce intake pauses the delivery as soon as they pass 5 %."""
    from tests.bounces.mail import postfix_dsn

    monkeypatch.setenv("ENVOI_GUARD_MIN_MESSAGES", "100")
    monkeypatch.setattr(guards, "CHECK_EVERY", 0.0)  # judged at each bounce, not each 2 s
    delivery = prepared_delivery("later", RECIPIENTS)
    services.confirm(boss(), delivery)
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=200)
    worker.run_once()
    worker.run_once()
    sent = relay.messages
    assert len(sent) == 400 and status(delivery) == "in_progress"
    for message in sent[:25]:  # 25 of 400: 6.25 %
        (address,) = message.rcpt_to
        ingest.receive(postfix_dsn(message.mail_from, message.data, address, "5.1.1",
                                   "550 5.1.1 User unknown"), "", [message.mail_from])
    worker.close()
    assert SendingLog.objects.filter(delivery=delivery, failure_type="hard").count() == 25
    assert status(delivery) == "paused"
    (detail,) = guard_entries(delivery)
    assert detail["signal"] == "hard_bounces"
    assert (detail["count"], detail["processed"]) == (21, 400), "the first past 20 of 400"
