"""The sending log's monthly partitions (envoi.sending.partitions, PostgreSQL), and the
id span that keeps the queue's statements on the partitions of the delivery sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from envoi import clock
from envoi.deliveries.models import Delivery
from envoi.reporting.jobs import JOBS
from envoi.sending import partitions, queue, retention
from envoi.sending.models import SendingLog
from tests.support.deliveries import delivery_in, prepared_delivery

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.postgres_only
LEASE = timedelta(seconds=60)


def far_month(months: int) -> datetime:
    """The first of a month after every partition the other tests may have opened."""
    newest = max(p.opened_at or datetime.min.replace(tzinfo=UTC)
                 for p in partitions.partitions())
    month = newest.year * 12 + newest.month - 1 + months
    return datetime(month // 12, month % 12 + 1, 1, 12, tzinfo=UTC)


def partitions_of(delivery: Delivery) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM sending_sendinglog "
                       "WHERE delivery_id = %s", [delivery.pk])
        return {name for (name,) in cursor.fetchall()}


def planned_relations(sql: str, params: list) -> set[str]:
    """Every table the planner kept in the plan of ``sql`` (after planning-time pruning)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found - {partitions.TABLE}  # the target an UPDATE names, not a table scanned


def claim_plan(delivery: Delivery, span: queue.LogSpan) -> set[str]:
    now = clock.now()
    low, high = max(1, span.first or 0), span.last or queue.LAST_ID
    sql = queue._CLAIM["postgresql"]
    return planned_relations(sql, [now + LEASE, "w1", low, high, delivery.pk, low, high,
                                   now, now, 200])


def record_plan(ids: list[int]) -> set[str]:
    batch = json.dumps([{"id": i, "status": "sent"} for i in ids])
    return planned_relations(queue._RECORD_BATCH, [clock.now(), clock.now(), batch,
                                                   min(ids), max(ids)])


def span_of(delivery: Delivery) -> queue.LogSpan:
    delivery.refresh_from_db()
    return queue.LogSpan(delivery.log_first_id, delivery.log_last_id)


@postgres_only
def test_the_sending_log_is_partitioned_by_range_of_id():
    with connection.cursor() as cursor:
        cursor.execute("SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
                       "JOIN pg_attribute a ON a.attrelid = p.partrelid "
                       "AND a.attnum = p.partattrs[0] "
                       "WHERE p.partrelid = 'sending_sendinglog'::regclass")
        assert cursor.fetchall() == [("r", "id")]
    assert partitions.is_partitioned()
    # Its foreign key to the delivery holds on the partitioned table.
    with connection.cursor() as cursor:
        cursor.execute("SELECT confrelid::regclass::text FROM pg_constraint "
                       "WHERE conrelid = 'sending_sendinglog'::regclass AND contype = 'f'")
        assert cursor.fetchall() == [("deliveries_delivery",)]


@postgres_only
def test_the_job_opens_the_next_months_partition_once_and_new_rows_land_in_it():
    month = far_month(1)
    opened = JOBS["sending_partitions"].run(month)
    assert opened is not None and opened.startswith(f"sending_sendinglog_{month:%Y%m}_")
    assert partitions.rotate(month + timedelta(days=20)) is None  # the same month
    delivery = delivery_in("in_progress")
    assert partitions_of(delivery) == {opened}
    closed = {p.name: p for p in partitions.partitions()}
    following = partitions.rotate(far_month(1))
    assert following is not None
    assert {p.name: p for p in partitions.partitions()}[opened].closed_at is not None
    assert closed[opened].high - closed[opened].low == partitions.WIDTH


@postgres_only
def test_a_claim_and_a_record_are_planned_over_the_deliverys_partitions_only():
    partitions.rotate(far_month(1))
    older = prepared_delivery("older", 5)
    partitions.rotate(far_month(1))
    delivery = prepared_delivery("current", 5)
    partitions.rotate(far_month(1))  # a newer partition, empty
    mine = partitions_of(delivery)
    assert len(mine) == 1 and mine != partitions_of(older)

    span = span_of(delivery)
    assert claim_plan(delivery, span) == mine
    ids = list(SendingLog.objects.filter(delivery=delivery).values_list("id", flat=True))
    assert record_plan(ids) == mine
    # Without the bounds, the planner keeps every partition (what the span is for).
    unbounded = claim_plan(delivery, queue.UNKNOWN_SPAN)
    assert mine | partitions_of(older) <= unbounded


def test_preparation_records_the_span_of_the_rows_and_a_claim_stays_within_it():
    delivery = delivery_in("in_progress")
    ids = sorted(SendingLog.objects.filter(delivery=delivery).values_list("id", flat=True))
    span = span_of(delivery)
    assert (span.first, span.last) == (ids[0], ids[-1])
    (sending,) = [d for d in queue.sending_deliveries() if d.id == delivery.pk]
    assert sending.span == span
    claimed = queue.ClaimCursor().claim(delivery.pk, "w1", len(ids) + 5, clock.now(),
                                        LEASE, span)
    assert [row.id for row in claimed] == ids
    # A span narrower than the rows (never written so) shows that the bounds apply.
    SendingLog.objects.filter(pk__in=ids).update(lease_until=None)
    narrow = queue.LogSpan(ids[1], ids[-2])
    assert [row.id for row in queue.claim(delivery.pk, "w1", 99, clock.now(), LEASE,
                                          span=narrow)] == ids[1:-1]


@postgres_only
def test_anonymising_goes_partition_by_partition():
    bound = partitions.partitions()[0].high  # where the first partition ends
    assert list(retention._windows(bound - 5, bound + 5)) == [(bound - 5, bound - 1),
                                                             (bound, bound + 5)]
    assert list(retention._windows(1, retention.BATCH + 1)) == [
        (1, retention.BATCH), (retention.BATCH + 1, retention.BATCH + 1)]


def test_a_top_up_widens_the_span_to_its_rows_and_a_discard_forgets_it():
    from django.db import transaction

    from envoi.audiences.importer import create_profiles
    from envoi.deliveries.services import discard_preparation
    from envoi.preparation.services import extend_preparation

    delivery = prepared_delivery("topped", 3)
    first = span_of(delivery)
    create_profiles([{"email": f"topped{i}@example.com"} for i in range(3, 6)])
    with transaction.atomic():
        assert extend_preparation(delivery, clock.now()) == 3
    ids = sorted(SendingLog.objects.filter(delivery=delivery).values_list("id", flat=True))
    assert len(ids) == 6 and span_of(delivery) == (first.first, ids[-1]) != first
    discard_preparation(delivery)
    assert span_of(delivery) == queue.UNKNOWN_SPAN


@postgres_only
def test_the_migration_keeps_the_rows_and_every_foreign_key():
    from django.core.management import call_command
    from django.db import IntegrityError, transaction

    call_command("migrate", "sending", "0007", verbosity=0)
    try:
        assert not partitions.is_partitioned()
        before = prepared_delivery("kept", 3)
        kept = sorted(SendingLog.objects.filter(delivery=before).values_list("id", flat=True))
        with connection.cursor() as cursor:  # another table's key to the sending log
            cursor.execute("CREATE TABLE test_row_note (row_id bigint NOT NULL "
                           "REFERENCES sending_sendinglog (id))")
            cursor.execute("INSERT INTO test_row_note VALUES (%s)", [kept[0]])
    finally:
        call_command("migrate", "sending", verbosity=0)
    try:
        assert partitions.is_partitioned()
        assert sorted(SendingLog.objects.filter(delivery=before)
                      .values_list("id", flat=True)) == kept
        assert partitions_of(before) == {"sending_sendinglog_p0"}
        after = prepared_delivery("later", 2)
        newer = SendingLog.objects.filter(delivery=after).first()
        assert newer.pk > kept[-1] and partitions_of(after) != {"sending_sendinglog_p0"}
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO test_row_note VALUES (%s)", [newer.pk])
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute("INSERT INTO test_row_note VALUES (%s)", [newer.pk + 10**9])
            with pytest.raises(IntegrityError), transaction.atomic():  # its own, to deliveries
                cursor.execute("INSERT INTO sending_sendinglog (delivery_id, profile_id, "
                               "address, status, failure_type, failure_reason, smtp_reply, "
                               "attempts, claimed_by, message_id) VALUES (%s, 1, 'x', "
                               "'pending', '', '', '', 0, '', '')", [after.pk + 10**6])
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS test_row_note")
