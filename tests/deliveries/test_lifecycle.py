"""The delivery lifecycle through the services (SPEC §2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from envoi.deliveries import services
from envoi.deliveries.lifecycle import InvalidTransition
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.deliveries import boss, delivery_in

pytestmark = pytest.mark.django_db


def statuses(delivery):
    return sorted(SendingLog.objects.filter(delivery=delivery)
                  .values_list("address", "status"))


def test_editing_content_after_preparation_returns_to_editing():
    delivery = delivery_in("approved")
    assert SendingLog.objects.filter(delivery=delivery).count() == 4
    delivery = services.update(boss(), delivery, subject="New {{ first_name }}")
    assert delivery.status == "editing"
    assert delivery.approval == {} and delivery.prepared_hash == ""
    assert not SendingLog.objects.filter(delivery=delivery).exists()


def test_renaming_keeps_the_approval():
    delivery = delivery_in("approved")
    delivery = services.update(boss(), delivery, label="Renamed")
    assert delivery.status == "approved" and delivery.approval["to_deliver"] == 4


def test_confirm_needs_approval_when_required():
    delivery = delivery_in("pending_approval")
    with pytest.raises(InvalidTransition, match="pending approval"):
        services.confirm(boss(), delivery)


def test_without_approval_a_prepared_delivery_can_be_confirmed():
    delivery = delivery_in("editing", approval_required=False)
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "ready"
    assert services.confirm(boss(), delivery).status == "in_progress"


def test_approval_is_frozen_against_changes_behind_its_back():
    delivery = delivery_in("approved")
    # A change that bypasses the services (e.g. a direct database edit) is caught.
    type(delivery).objects.filter(pk=delivery.pk).update(subject="Sneaky")
    delivery.refresh_from_db()
    with pytest.raises(services.DeliveryError, match="prepare it again"):
        services.confirm(boss(), delivery)


def test_preparation_errors_block_sending():
    delivery = delivery_in("editing")
    type(delivery).objects.filter(pk=delivery.pk).update(
        html_body="<p>{{ first_name </p>", is_marketing=False)
    delivery.refresh_from_db()
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "preparation_failed"
    message = delivery.preparation_messages.get(code="personalization")
    assert (message.line, message.column) == (1, 4)
    with pytest.raises(InvalidTransition):
        services.confirm(boss(), delivery)


def test_pause_resume_and_nothing_is_sent_twice(relay):
    delivery = delivery_in("in_progress")
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=1)
    assert worker.run_once() == 1
    services.pause(boss(), delivery)
    assert worker.run_once() == 0
    services.resume(boss(), delivery)
    worker.run(until_idle=True)
    assert sorted(m.rcpt_to[0] for m in relay.messages) == sorted(
        a for a, s in statuses(delivery))
    assert {s for _, s in statuses(delivery)} == {"sent"}
    delivery.refresh_from_db()
    assert delivery.status == "finished"


def test_stop_is_final_and_pending_rows_are_ignored(relay):
    delivery = delivery_in("in_progress")
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=1)
    worker.run_once()
    delivery = services.stop(boss(), delivery)
    assert delivery.status == "stopped"
    worker.run(until_idle=True)
    assert len(relay.messages) == 1
    assert sorted(s for _, s in statuses(delivery)) == ["ignored", "ignored", "ignored", "sent"]
    with pytest.raises(InvalidTransition):
        services.resume(boss(), delivery)


def test_soft_failures_are_retried_then_fail(relay):
    relay.script("bob@example.net", "452 4.2.2 Mailbox full")
    delivery = delivery_in("in_progress", max_retries=2, retry_delay_seconds=60)
    now = timezone.now()
    clock = {"now": now}
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", clock=lambda: clock["now"])
    for attempt in range(1, 4):
        worker.run_once()
        row = SendingLog.objects.get(delivery=delivery, address="bob@example.net")
        assert row.attempts == attempt
        assert row.failure_type == "soft" and row.failure_reason == "mailbox_full"
        clock["now"] += timedelta(seconds=61)
    assert row.status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "finished"


def test_a_retry_that_succeeds_is_sent(relay):
    relay.script("bob@example.net", "451 4.4.1 Try later", times=1)
    delivery = delivery_in("in_progress", retry_delay_seconds=60)
    clock = {"now": timezone.now()}
    worker = Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", clock=lambda: clock["now"])
    worker.run_once()
    assert SendingLog.objects.get(address="bob@example.net").status == "pending"
    assert not worker.run_once(), "not before the retry delay"
    clock["now"] += timedelta(seconds=61)
    worker.run_once()
    row = SendingLog.objects.get(delivery=delivery, address="bob@example.net")
    assert (row.status, row.attempts) == ("sent", 2)


def test_hard_failures_are_not_retried(relay):
    relay.script("bob@example.net", "550 5.1.1 User unknown")
    delivery = delivery_in("in_progress")
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}").run(until_idle=True)
    row = SendingLog.objects.get(delivery=delivery, address="bob@example.net")
    assert (row.status, row.failure_type, row.failure_reason, row.attempts) == (
        "failed", "hard", "user_unknown", 1)
    assert row.smtp_reply.startswith("550")


def test_unreachable_relay_is_a_soft_failure(settings):
    delivery = delivery_in("in_progress", max_retries=0)
    Worker(smtp_url="smtp://127.0.0.1:9?timeout=2").run(until_idle=True)
    assert {(r.status, r.failure_reason) for r in SendingLog.objects.filter(
        delivery=delivery)} == {("failed", "unreachable")}


def test_a_reply_with_a_nul_is_recorded_without_it(relay):
    relay.script("bob@example.net", "550 5.1.1 No such\0 user")
    delivery = delivery_in("in_progress")
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}").run(until_idle=True)
    row = SendingLog.objects.get(delivery=delivery, address="bob@example.net")
    assert (row.status, row.failure_type, row.smtp_reply) == (
        "failed", "hard", "550 5.1.1 No such user")
