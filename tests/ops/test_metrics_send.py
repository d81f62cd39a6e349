"""A real send through a real SMTP server: the counters equal the sending log."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import REGISTRY

from envoi.deliveries import services
from envoi.ops import metrics
from envoi.sending.models import SendingLog
from tests.support.deliveries import boss, prepared_delivery

pytestmark = pytest.mark.django_db(transaction=True)

RELAY_LABELS = ("channel", "relay")


def samples(name: str) -> Counter[tuple[tuple[str, str], ...]]:
    """Every labelled value of a counter, by its labels."""
    found: Counter[tuple[tuple[str, str], ...]] = Counter()
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] += sample.value
    return found


def delta(after: Counter, before: Counter) -> dict:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


def test_counters_equal_the_sending_log(relay, send_all):
    delivery = prepared_delivery("m", 30)
    delivery.max_retries, delivery.retry_delay_seconds = 1, 0
    delivery.save(update_fields=["max_retries", "retry_delay_seconds"])
    relay.script("m1@example.com", "550 5.1.1 User unknown")
    relay.script("m2@example.com", "552 5.2.2 Mailbox full")
    relay.script("m3@example.com", "451 4.3.0 Try again later", times=1)  # then accepted
    names = ("envoi_messages_sent_total", "envoi_messages_failed_total",
             "envoi_messages_retried_total")
    before = {name: samples(name) for name in names}
    claims_before = REGISTRY.get_sample_value("envoi_claim_to_send_seconds_count") or 0

    services.confirm(boss(), delivery)
    send_all()

    rows = SendingLog.objects.filter(delivery=delivery)
    statuses = Counter(rows.values_list("status", flat=True))
    assert statuses == {"sent": 28, "failed": 2}
    where = (("channel", "email"), ("relay", f"127.0.0.1:{relay.port}"))
    sent = delta(samples(names[0]), before[names[0]])
    assert sent == {where: statuses["sent"]}
    failed = delta(samples(names[1]), before[names[1]])
    by_reason = Counter(rows.filter(status="failed").values_list("failure_reason", flat=True))
    assert failed == {(*where[:1], ("reason", reason), *where[1:]): count
                      for reason, count in by_reason.items()}
    retried = delta(samples(names[2]), before[names[2]])
    assert sum(retried.values()) == 1 == rows.filter(attempts=2, status="sent").count()
    claims = REGISTRY.get_sample_value("envoi_claim_to_send_seconds_count") - claims_before
    assert claims >= 2  # once per batch (the retry is a batch of its own), not per message


def test_the_metrics_page_shows_the_queue_and_the_workers(relay, send_all, client):
    delivery = services.confirm(boss(), prepared_delivery("q", 12))
    body = client.get("/metrics").content.decode()
    assert 'envoi_queue_rows{state="pending"} 12.0' in body
    assert 'envoi_queue_rows{state="due"} 12.0' in body
    send_all()
    body = client.get("/metrics").content.decode()
    assert 'envoi_queue_rows{state="pending"} 0.0' in body
    assert SendingLog.objects.filter(delivery=delivery, status="sent").count() == 12
    # A worker that stopped cleanly took its heartbeat row away with it.
    assert 'envoi_workers{state="alive"} 0.0' in body


def test_a_batch_is_counted_by_relay_and_reason():
    class Row:
        def __init__(self, status, reason=""):
            self.status, self.failure_reason = status, reason

    before = {name: samples(name) for name in ("envoi_messages_sent_total",
                                                "envoi_messages_failed_total")}
    outcomes = [Row("sent")] * 150 + [Row("failed", "user_unknown")] * 50
    metrics.count_outcomes("email", outcomes, ["a.test:25"] * 100 + ["b.test:25"] * 100)
    sent = delta(samples("envoi_messages_sent_total"), before["envoi_messages_sent_total"])
    assert sent == {(("channel", "email"), ("relay", "a.test:25")): 100,
                    (("channel", "email"), ("relay", "b.test:25")): 50}
    failed = delta(samples("envoi_messages_failed_total"), before["envoi_messages_failed_total"])
    assert failed == {(("channel", "email"), ("reason", "user_unknown"),
                       ("relay", "b.test:25")): 50}
