"""Anonymising the sending log of deliveries that ended long ago.

A row is never deleted: the KPIs, the variant KPIs, the throughput chart and the
failure breakdown all count sending-log rows, and keep counting them. What retention
takes away is who the message was for: the address, the relay's reply (which often
quotes the address) and the profile (set to :data:`~envoi.sending.models.DETACHED_PROFILE`).
Before that, each profile's totals are added to its
:class:`~envoi.sending.models.ProfileMessageSummary`, which the profile history adds to
the rows still attached, so its counts do not change.

The delivery's exclusion log is anonymised with it. Deliveries are taken whole, once
they ended (finished, stopped or failed: no row is pending) before the cutoff, each
once (:class:`~envoi.sending.models.AnonymisedDelivery`).
Their rows are done in windows of :data:`BATCH` ids, each window's summary and update in
one transaction: preparation writes a delivery's rows in one statement, so their ids
are contiguous and each window is a short primary-key range scan. On PostgreSQL no
window spans two partitions (:mod:`envoi.sending.partitions`): the work goes partition
by partition, each window planned over its own. A run cut short goes on where it
stopped: only rows still attached are summed and updated.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import Coalesce

from envoi.deliveries.models import Delivery, Status
from envoi.preparation.retention import anonymise_exclusions
from envoi.sending import partitions
from envoi.sending.models import DETACHED_PROFILE, AnonymisedDelivery, SendingLog, SendStatus

BATCH = 10_000
WENT_OUT = (SendStatus.SENT, SendStatus.DELIVERED)  # as the KPIs and the history count
ENDED = (Status.FINISHED, Status.STOPPED, Status.FAILED)
SUMMARY = "sending_profilemessagesummary"
LOG = "sending_sendinglog"


def deliveries_ended_before(before: datetime) -> list[int]:
    """Ended deliveries (by their end, else their last move) not anonymised yet."""
    return list(Delivery.objects.filter(status__in=ENDED)
                .annotate(ended=Coalesce("finished_at", "updated_at"))
                .filter(ended__lt=before)
                .exclude(pk__in=AnonymisedDelivery.objects.values("delivery_id"))
                .order_by("pk").values_list("pk", flat=True))


def anonymise(delivery_id: int, now: datetime) -> int:
    """Anonymise every row of one ended delivery; how many rows were anonymised."""
    low, high = _span(delivery_id)
    done = 0
    if low is not None and high is not None:
        for start, end in _windows(low, high):
            done += _anonymise_window(delivery_id, start, end)
    anonymise_exclusions(delivery_id)
    AnonymisedDelivery.objects.update_or_create(
        delivery_id=delivery_id, defaults={"at": now, "rows": done})
    return done


def _span(delivery_id: int) -> tuple[int | None, int | None]:
    """The ids between which the delivery's rows lie: as preparation recorded them, or
    found (rows written by an earlier release)."""
    low, high = Delivery.objects.filter(pk=delivery_id).values_list(
        "log_first_id", "log_last_id").get()
    if low is None or high is None:
        found = SendingLog.objects.filter(delivery_id=delivery_id).aggregate(
            low=Min("id"), high=Max("id"))
        low, high = found["low"], found["high"]
    return low, high


def _windows(low: int, high: int) -> Iterator[tuple[int, int]]:
    """Consecutive windows of at most BATCH ids from ``low`` to ``high``, none across a
    partition's bound."""
    bounds = [p.high for p in partitions.partitions()] if partitions.is_partitioned() else []
    start = low
    while start <= high:
        end = min(start + BATCH - 1, high, *(bound - 1 for bound in bounds if bound > start))
        yield start, end
        start = end + 1


def _anonymise_window(delivery_id: int, low: int, high: int) -> int:
    went_out = ", ".join(f"'{status}'" for status in WENT_OUT)
    window = "delivery_id = %s AND id BETWEEN %s AND %s AND profile_id <> %s"
    params = [delivery_id, low, high, DETACHED_PROFILE]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two runs at once (the job and `envoi retention`) must not both sum a
            # window: the second waits here, and its statements then see the first's
            # rows detached. SQLite runs one writer at a time already.
            cursor.execute(f"SELECT id FROM {LOG} WHERE {window} FOR UPDATE", params)
        # "WHERE true": SQLite would read ON CONFLICT as the ON of a join.
        cursor.execute(
            f"INSERT INTO {SUMMARY} (profile_id, messages, touchpoints, first_contact_at) "
            f"SELECT * FROM (SELECT profile_id, count(*), "
            f"count(CASE WHEN status IN ({went_out}) THEN 1 END), "
            f"MIN(CASE WHEN status IN ({went_out}) THEN sent_at END) "
            f"FROM {LOG} WHERE {window} GROUP BY profile_id) AS found WHERE true "
            f"ON CONFLICT (profile_id) DO UPDATE SET "
            f"messages = {SUMMARY}.messages + excluded.messages, "
            f"touchpoints = {SUMMARY}.touchpoints + excluded.touchpoints, "
            f"first_contact_at = CASE WHEN {SUMMARY}.first_contact_at IS NULL "
            f"OR excluded.first_contact_at < {SUMMARY}.first_contact_at "
            f"THEN excluded.first_contact_at ELSE {SUMMARY}.first_contact_at END", params)
        cursor.execute(f"UPDATE {LOG} SET address = '', smtp_reply = '', profile_id = %s "
                       f"WHERE {window}", [DETACHED_PROFILE, *params])
        return cursor.rowcount


def prune(before: datetime, now: datetime) -> dict[str, int]:
    """Anonymise the rows (and exclusion rows) of every delivery that ended before
    ``before``; the counts."""
    deliveries = deliveries_ended_before(before)
    rows = sum(anonymise(pk, now) for pk in deliveries)
    return {"anonymised_deliveries": len(deliveries), "anonymised_rows": rows}
