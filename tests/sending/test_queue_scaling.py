"""What keeps the queue's cost per batch flat as a delivery grows: a worker claims past
the last row it claimed (coming back for rows left behind at the end of the log), and a
large preparation refreshes PostgreSQL's statistics of the sending log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from envoi import clock
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.preparation.targeting import ANALYZE_AFTER_ROWS
from envoi.sending import partitions, queue
from envoi.sending.models import SendingLog
from tests.support.deliveries import boss, delivery_in

pytestmark = pytest.mark.django_db

LEASE = timedelta(seconds=60)


def claim_ids(cursor: queue.ClaimCursor, delivery_id: int, limit: int = 2,
              worker: str = "w1") -> list[int]:
    return [row.id for row in cursor.claim(delivery_id, worker, limit, clock.now(), LEASE)]


def send(ids: list[int]) -> None:
    queue.record([queue.Outcome(row_id, "sent") for row_id in ids], clock.now())


def test_claims_move_forward_and_return_for_rows_left_behind():
    delivery = delivery_in("in_progress")
    all_ids = list(SendingLog.objects.filter(delivery=delivery, status="pending")
                   .order_by("id").values_list("id", flat=True))
    assert len(all_ids) >= 4
    cursor = queue.ClaimCursor()

    first = claim_ids(cursor, delivery.pk)
    assert first == all_ids[:2]
    send(first[1:])
    # The first row's lease is given up (a crash, a rate limit): it is pending again,
    # below the cursor, and waits until the rest of the log has been claimed.
    SendingLog.objects.filter(pk=first[0]).update(lease_until=None)

    rest = []
    while batch := claim_ids(cursor, delivery.pk):
        if first[0] in batch:
            break
        rest += batch
        send(batch)
    assert rest == all_ids[2:]
    assert batch == [first[0]]  # after the end of the log, from the start again


def test_another_workers_rows_are_skipped_not_waited_for():
    delivery = delivery_in("in_progress")
    ids = list(SendingLog.objects.filter(delivery=delivery).order_by("id")
               .values_list("id", flat=True))
    mine, theirs = queue.ClaimCursor(), queue.ClaimCursor()
    taken = claim_ids(theirs, delivery.pk, limit=2, worker="w2")
    assert claim_ids(mine, delivery.pk, limit=2) == ids[2:4]
    assert taken == ids[:2]
    assert not set(claim_ids(mine, delivery.pk, limit=len(ids))) & set(taken)


@pytest.mark.postgres_only
def test_a_large_preparation_refreshes_the_planner_statistics(
        django_capture_on_commit_callbacks):
    create_profiles([{"email": f"s{i}@example.com"} for i in range(ANALYZE_AFTER_ROWS)])
    delivery = services.create(boss(), label="big", sender="a@example.com", subject="s",
                               text_body="{{ unsubscribe_url }}",
                               audience=Audience.objects.create(name="all", filter=""))
    with django_capture_on_commit_callbacks(execute=True):
        services.prepare(boss(), delivery)
    delivery.refresh_from_db()
    # The partitions holding the delivery's rows (PostgreSQL partitions the log).
    holding = [p.name for p in partitions.holding(delivery.log_first_id, delivery.log_last_id)]
    assert holding
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(reltuples) FROM pg_class WHERE relname = ANY(%s)",
                       [holding])
        [(estimate,)] = cursor.fetchall()
    assert estimate >= ANALYZE_AFTER_ROWS  # the planner knows the rows are there
