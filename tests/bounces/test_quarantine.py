"""The quarantine lifecycle of SPEC §8, one rule at a time, on the controlled clock."""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import PermissionDenied, create_user
from envoi.bounces import quarantine
from envoi.bounces.models import Quarantine, QuarantineEvent
from envoi.bounces.quarantine import Failure

pytestmark = pytest.mark.django_db


def fail(address: str, failure_type: str, reason: str, now) -> None:
    quarantine.note_failures([Failure(address, failure_type, reason, "bounce")], now)


def standing(address: str) -> tuple[str, int, str]:
    record = Quarantine.objects.get(address=address.lower())
    return record.status, record.error_count, record.reason


def test_a_hard_failure_quarantines_at_once(clock):
    fail("Jane@Example.com", "hard", "user_unknown", clock.now())
    assert standing("jane@example.com") == ("quarantined", 0, "user_unknown")


def test_soft_failures_count_once_a_day_and_quarantine_at_the_fifth(clock):
    for _ in range(3):  # three errors the same day count once
        fail("full@example.com", "soft", "mailbox_full", clock.now())
    assert standing("full@example.com") == ("erroneous", 1, "mailbox_full")
    for day in range(2, 5):
        clock.advance(days=1)
        fail("full@example.com", "soft", "mailbox_full", clock.now())
        assert standing("full@example.com") == ("erroneous", day, "mailbox_full")
    clock.advance(days=1)
    fail("full@example.com", "soft", "mailbox_full", clock.now())
    assert standing("full@example.com") == ("quarantined", 5, "mailbox_full")
    history = quarantine.history("full@example.com")
    assert [(e.from_status, e.to_status, e.error_count) for e in reversed(history)] == [
        ("valid", "erroneous", 1), ("erroneous", "erroneous", 2), ("erroneous", "erroneous", 3),
        ("erroneous", "erroneous", 4), ("erroneous", "quarantined", 5)]
    assert all(e.at is not None and e.reason == "mailbox_full" for e in history)


def test_a_success_releases_an_erroneous_address(clock):
    fail("x@example.com", "soft", "refused", clock.now())
    quarantine.note_successes(["X@example.com"], clock.now())
    assert standing("x@example.com") == ("valid", 0, "success")


def test_a_success_does_not_release_a_quarantined_address(clock):
    fail("q@example.com", "hard", "user_unknown", clock.now())
    quarantine.note_successes(["q@example.com"], clock.now())
    assert standing("q@example.com")[0] == "quarantined"


def test_automatic_release_after_10_days_or_30_for_a_full_mailbox(clock):
    fail("soft@example.com", "soft", "unreachable", clock.now())
    fail("full@example.com", "soft", "mailbox_full", clock.now())
    fail("hard@example.com", "hard", "user_unknown", clock.now())
    clock.advance(days=9, hours=23)
    assert quarantine.release_expired(clock.now()) == 0
    clock.advance(hours=1)
    assert quarantine.release_expired(clock.now()) == 1
    assert standing("soft@example.com") == ("valid", 0, "no_error_10_days")
    clock.advance(days=20)
    assert quarantine.release_expired(clock.now()) == 1
    assert standing("full@example.com") == ("valid", 0, "no_error_30_days")
    assert standing("hard@example.com")[0] == "quarantined"


def test_a_new_error_restarts_the_wait(clock):
    fail("soft@example.com", "soft", "unreachable", clock.now())
    clock.advance(days=8)
    fail("soft@example.com", "soft", "unreachable", clock.now())
    clock.advance(days=8)
    assert quarantine.release_expired(clock.now()) == 0
    clock.advance(days=2)
    assert quarantine.release_expired(clock.now()) == 1


def test_a_complaint_denylists_even_an_allowlisted_address(clock):
    Quarantine.objects.create(address="vip@example.com", status="allowlisted")
    fail("vip@example.com", "hard", "user_unknown", clock.now())
    assert standing("vip@example.com")[0] == "allowlisted"
    assert quarantine.denylist("vip@example.com", "complaint", clock.now())
    assert standing("vip@example.com")[:1] == ("denylisted",)
    assert not quarantine.denylist("vip@example.com", "complaint", clock.now())


def test_release_by_hand_needs_the_administration_role_and_is_audited(clock):
    fail("gone@example.com", "hard", "user_unknown", clock.now())
    preparer = create_user("paula", ["prepare_deliveries"])
    with pytest.raises(PermissionDenied):
        quarantine.release(preparer, "gone@example.com")
    admin = create_user("ada", ["administration"])
    clock.advance(minutes=5)
    quarantine.release(admin, "GONE@example.com", "address fixed by the customer")
    assert standing("gone@example.com") == ("valid", 0, "manual")
    latest = QuarantineEvent.objects.order_by("-id").first()
    assert (latest.actor, latest.note, latest.at) == ("ada", "address fixed by the customer",
                                                      clock.now())
    assert AuditEntry.objects.filter(action="quarantine.release", allowed=True).count() == 1
    assert AuditEntry.objects.filter(action="quarantine.manage", allowed=False).count() == 1


def test_release_needs_a_record(clock):
    admin = create_user("ada", ["administration"])
    with pytest.raises(quarantine.NotQuarantined):
        quarantine.release(admin, "never@example.com")

