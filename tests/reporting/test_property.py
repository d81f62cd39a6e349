"""For any event stream, however it is batched and ordered, the incrementally kept
KPIs equal a from-scratch recomputation, and both equal SPEC §6 computed here in plain
Python, independently of the code under test. Compute stats also mends stored
engagement that disagrees with the events (lost, late, early or unsupported rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envoi.reporting import kpis
from envoi.tracking.ingest import Event, record_events
from envoi.tracking.models import MessageEngagement
from tests.reporting.factory import T0, delivery_with_rows

STATUSES = st.sampled_from([
    "sent", "sent", "delivered", "pending", "ignored", ("failed", "hard", "user_unknown"),
    ("failed", "soft", "mailbox_full"), ("failed", "hard", "invalid_domain")])
KINDS = st.sampled_from(["open", "open", "click", "mirror", "unsubscribe"])
# Whole seconds and microseconds both: SQLite compares the stored text.
OFFSETS = st.builds(lambda s, us: timedelta(seconds=s, microseconds=us),
                    st.integers(0, 7200), st.sampled_from([0, 1, 499_999, 999_999]))


class Rollback(Exception):
    pass


@st.composite
def scenarios(draw):
    statuses = draw(st.lists(STATUSES, min_size=0, max_size=8))
    events = draw(st.lists(st.tuples(st.integers(0, max(len(statuses) - 1, 0)), KINDS,
                                     OFFSETS, st.booleans()),
                           max_size=30 if statuses else 0))
    order = draw(st.permutations(range(len(events))))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(events) - 1, 1)), max_size=5)))
    return statuses, events, order, cuts, draw(st.sampled_from(sorted(CORRUPTIONS)))


# Ways the stored engagement could disagree with the events; Compute stats mends each.
CORRUPTIONS = {
    "none": lambda rows: None,
    "lost": lambda rows: rows.filter(pk__in=rows.values("pk")[:1]).delete(),
    "late": lambda rows: rows.update(opened_at=T0 + timedelta(days=9)),
    "early": lambda rows: rows.update(clicked_at=T0 - timedelta(days=9)),
}


def corrupt(delivery_id: int, how: str) -> None:
    CORRUPTIONS[how](MessageEngagement.objects.filter(delivery_id=delivery_id))
    if how != "none":  # and a row no event supports
        MessageEngagement.objects.create(row_id=10**12 + delivery_id,
                                         delivery_id=delivery_id, opened_at=T0)


def batches(items: list, cuts: list[int]) -> list[list]:
    bounds = [0, *[c for c in cuts if c < len(items)], len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def reference_kpis(statuses: list, events: list[Event]) -> dict:
    """SPEC §6, written out plainly."""
    state = [s if isinstance(s, str) else s[0] for s in statuses]
    delivered = sum(s in ("sent", "delivered") for s in state)
    failed = state.count("failed")
    sent = delivered + failed

    def messages(keep) -> int:
        return len({e.row_id for e in events if keep(e)})

    def rate(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    opens, opens_human = messages(lambda e: True), messages(lambda e: not e.machine)
    clicks = messages(lambda e: e.kind == "click")
    clicks_human = messages(lambda e: e.kind == "click" and not e.machine)
    failures: dict[tuple[str, str], int] = {}
    for entry in statuses:
        if entry[0] == "failed" and isinstance(entry, tuple):
            failures[entry[1:]] = failures.get(entry[1:], 0) + 1
    by_type: dict[str, int] = {}
    for (kind, _), n in failures.items():
        by_type[kind] = by_type.get(kind, 0) + n
    return {
        "to_deliver": len(statuses), "sent": sent, "delivered": delivered, "failed": failed,
        "pending": state.count("pending"), "ignored": state.count("ignored"),
        "sent_rate": rate(sent, len(statuses)), "delivered_rate": rate(delivered, sent),
        "failed_rate": rate(failed, sent),
        "opens": opens, "opens_human": opens_human, "clicks": clicks,
        "clicks_human": clicks_human,
        "mirror_views": messages(lambda e: e.kind == "mirror"),
        "unsubscriptions": messages(lambda e: e.kind == "unsubscribe"),
        "open_rate": rate(opens, delivered), "open_rate_human": rate(opens_human, delivered),
        "click_rate": rate(clicks, delivered),
        "click_rate_human": rate(clicks_human, delivered),
        "failures_by_type": by_type,
        "failures_by_reason": [{"type": t, "reason": r, "count": n}
                               for (t, r), n in sorted(failures.items())],
    }


def reference_engagement(events: list[Event]) -> dict[int, tuple]:
    """Per message, the first time of each kind of engagement (None: never)."""
    def first(row_id: int, keep) -> object:
        times = [e.at for e in events if e.row_id == row_id and keep(e)]
        return min(times) if times else None

    return {row_id: (first(row_id, lambda e: True), first(row_id, lambda e: not e.machine),
                     first(row_id, lambda e: e.kind == "click"),
                     first(row_id, lambda e: e.kind == "click" and not e.machine),
                     first(row_id, lambda e: e.kind == "mirror"),
                     first(row_id, lambda e: e.kind == "unsubscribe"))
            for row_id in {e.row_id for e in events}}


def stored_engagement(delivery_id: int) -> dict[int, tuple]:
    columns = ("opened_at", "human_opened_at", "clicked_at", "human_clicked_at",
               "mirrored_at", "unsubscribed_at")
    return {row[0]: tuple(row[1:]) for row in MessageEngagement.objects.filter(
        delivery_id=delivery_id).values_list("row_id", *columns)}


@pytest.mark.django_db
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_incremental_equals_rebuild_equals_spec(scenario):
    statuses, drawn, order, cuts, corruption = scenario
    try:
        with transaction.atomic():  # each example leaves nothing behind
            delivery, rows = delivery_with_rows(statuses)
            events = [Event(rows[i].pk, delivery.pk, rows[i].profile_id, kind, T0 + offset,
                            machine=machine) for i, kind, offset, machine in drawn]
            for batch in batches([events[i] for i in order], cuts):
                record_events(batch)
            expected = reference_kpis(statuses, events)
            assert stored_engagement(delivery.pk) == reference_engagement(events)
            assert kpis.compute_from_engagement(delivery.pk) == expected
            corrupt(delivery.pk, corruption)
            assert kpis.compute_stats(delivery.pk) == expected
            assert stored_engagement(delivery.pk) == reference_engagement(events)
            raise Rollback
    except Rollback:
        pass
