"""A template that fails for some recipients, beside a healthy delivery, in a storm.

Two deliveries send at once through three real ``envoi worker`` processes on PostgreSQL,
one of which gets a signal every so often (the kill-storm shape, ``test_kill_storm``):

* a *healthy* delivery;
* a *poisoned* one, whose HTML divides by ``attributes.count``, which half of its
  profiles lack: their messages cannot be rendered.

Once a render error stopped the worker with the other delivery's batch still with the
relay, unrecorded: every lease period a restarted worker crashed again and sent that
batch again. Now the poisoned rows fail alone (``personalization_error``, with line and
column), no worker exits on them, and the healthy delivery loses nothing. With SIGTERM
nothing is sent twice; with SIGKILL, at most a batch per kill, as after any crash.
The pause threshold is off here, so that every poisoned row gets its verdict.
"""

from __future__ import annotations

import random
import signal
from collections import Counter

import pytest
from django.conf import settings

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from tests.support.deliveries import boss
from tests.support.fault_runs import (
    DjangoLedger,
    Figures,
    KillSchedule,
    WorkerFleet,
    delivery_status,
    final_rows,
    recipients_from_env,
    run_until_terminal,
    verdict,
    worker_env,
)
from tests.support.fault_seed import delivery_in_progress
from tests.support.processes import database_url

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

SIZE = recipients_from_env(15_000)
HEALTHY = SIZE * 2 // 5
POISONED = SIZE // 10  # half of them without the attribute
WORKERS = 3
BATCH = 200
LEASE_SECONDS = 10
# More often than in the kill storm: on a quiet machine this run takes a few seconds,
# and it must see several signals of each kind.
SIGNAL_EVERY = {signal.SIGKILL: (0.5, 1.2), signal.SIGTERM: (0.3, 0.9)}
POISON = ("<p>{{ first_name }}: {{ attributes.total | divided_by: attributes.count }}</p>\n"
          '<a href="{{ unsubscribe_url }}">Unsubscribe</a>')
REASON = "html_body, line 1, column 44: divided_by: can't divide by 0"


def poisoned_delivery(recipients: int) -> Delivery:
    """``poison{i}@…``: the even ones have ``count``, the odd ones do not."""
    create_profiles([{"email": f"poison{i}@example.com", "first_name": f"P{i}",
                      "attributes": {"total": 10, **({"count": 2} if i % 2 == 0 else {})}}
                     for i in range(recipients)])
    audience = Audience.objects.create(name="poisoned", filter='email contains "poison"')
    delivery = services.create(boss(), label="poisoned", sender="news@example.com",
                               subject="Hello", html_body=POISON, audience=audience,
                               approval_required=False)
    delivery = services.confirm(boss(), services.prepare(boss(), delivery))
    assert delivery.to_deliver == recipients
    return delivery


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_poisoned_delivery_fails_its_rows_alone_while_workers_are_signalled(
        sig, sink, seed, tmp_path):
    healthy = delivery_in_progress(HEALTHY)  # its audience is every profile there is yet
    poisoned = poisoned_delivery(POISONED)
    env = worker_env(database_url(), f"smtp://127.0.0.1:{sink.port}?pool=2",
                     secret_key=settings.SECRET_KEY, base_url=settings.ENVOI_BASE_URL,
                     lease_seconds=LEASE_SECONDS, batch_size=BATCH,
                     ENVOI_PERSONALIZATION_FAILURE_PAUSE="0")
    fleet = WorkerFleet(WORKERS, env, tmp_path)
    schedule = KillSchedule(random.Random(seed), sig, *SIGNAL_EVERY[sig])
    ledger = DjangoLedger()

    run = run_until_terminal(ledger, [healthy.pk, poisoned.pk], HEALTHY + POISONED, fleet,
                             sink, chaos=schedule, timeout=60 + SIZE / 50)

    received = sink.accepted
    healthy_rows = final_rows(ledger, healthy.pk)
    poisoned_rows = final_rows(ledger, poisoned.pk)
    healthy_received = Counter({a: n for a, n in received.items() if a.startswith("r")})
    poisoned_received = Counter({a: n for a, n in received.items() if a.startswith("poison")})
    assert set(received) == set(healthy_received) | set(poisoned_received)
    clean = verdict(healthy_rows, healthy_received, sink.message_ids)
    dirty = verdict(poisoned_rows, poisoned_received, sink.message_ids)
    failed = [row for row in poisoned_rows if row.status == "failed"]
    bound = f"{schedule.count}×{BATCH}" if sig == signal.SIGKILL else "0"
    Figures(f"poisoned-template-{sig.name.lower()}", HEALTHY + POISONED,
            f"{schedule.count} {sig.name}s, {len(failed)} unrendered",
            clean.lost + dirty.lost, clean.duplicated + dirty.duplicated, bound, run,
            seed).report()

    assert not fleet.crashed, fleet.crash_report()  # no worker exits on a bad template
    assert schedule.count >= 2, "the storm was too short to signal anything: raise the size"
    for result in (clean, dirty):
        assert result.not_terminal == [] and result.missing_at_server == []
        assert result.unknown_at_server == [] and result.changed_message_id == []
    if sig == signal.SIGTERM:
        assert clean.duplicated == dirty.duplicated == 0
    else:
        assert clean.duplicated + dirty.duplicated <= schedule.count * BATCH
    assert {row.status for row in healthy_rows} == {"sent"}
    odd = {f"poison{i}@example.com" for i in range(1, POISONED, 2)}
    assert {row.address for row in failed} == odd, "exactly the profiles without count"
    assert {(row.failure_type, row.failure_reason) for row in failed} == {
        ("soft", "personalization_error")}
    assert set(poisoned_received) == {f"poison{i}@example.com"
                                      for i in range(0, POISONED, 2)}
    assert delivery_status(ledger, healthy.pk) == "finished"
    assert delivery_status(ledger, poisoned.pk) == "finished"
    replies = ledger.fetch("SELECT DISTINCT smtp_reply FROM sending_sendinglog "
                           "WHERE delivery_id = %s AND status = 'failed'", [poisoned.pk])
    assert replies == [(REASON,)]
