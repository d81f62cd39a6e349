"""The consent state machine and the keyed hash shared by Python and SQL."""

from __future__ import annotations

import pytest
from django.db import connection

from envoi.audiences.models import Profile
from envoi.consent import hashing, lifecycle
from envoi.consent.models import Consent, ConsentEvent
from envoi.consent.services import (
    ConsentError,
    Evidence,
    confirm_consent,
    consenting_profiles,
    has_consent,
    request_consent,
    withdraw_consent,
)

pytestmark = pytest.mark.django_db

FORM = Evidence("form", wording="Yes please")


@pytest.fixture
def profile():
    return Profile.objects.create(email="sora@example.jp", language="ja")


def test_double_opt_in_moves_and_a_stale_confirmation_is_refused(profile):
    request_consent(profile, "email", FORM)
    assert Consent.objects.get().status == "pending" and not has_consent(profile, "email")
    confirm_consent(profile, "email", FORM)
    assert has_consent(profile, "email")
    assert list(consenting_profiles("email")) == [profile]
    # Someone typing the address into the form again leaves the consent granted.
    request_consent(profile, "email", FORM)
    assert has_consent(profile, "email")
    withdraw_consent(profile, "email", Evidence("link"))
    profile.refresh_from_db()
    assert profile.email_opt_out and not has_consent(profile, "email")
    with pytest.raises(lifecycle.InvalidTransition):
        confirm_consent(profile, "email", FORM)  # the old link cannot undo the withdrawal
    assert [e.move for e in ConsentEvent.objects.order_by("id")] == [
        "request", "confirm", "withdraw"]


def test_the_loser_of_a_race_changes_nothing(profile):
    request_consent(profile, "email", FORM)
    consent = Consent.objects.get()
    stale = Consent.objects.get()
    lifecycle.apply(consent, "withdraw", "link")
    with pytest.raises(lifecycle.InvalidTransition) as refused:
        lifecycle.apply(stale, "confirm", "form")
    assert refused.value.status == "withdrawn"
    assert Consent.objects.get().status == "withdrawn"


def test_unknown_channel_or_source_is_refused_by_name(profile):
    with pytest.raises(ConsentError, match="channel"):
        request_consent(profile, "fax", FORM)
    with pytest.raises(ConsentError, match="source"):
        request_consent(profile, "email", Evidence("rumour"))


@pytest.mark.parametrize("address", ["Sora@Example.JP ", "민지@example.kr", ""])
def test_the_sql_hash_is_the_python_hash(address):
    expression, params = hashing.sql_expression("%s", connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression}", [*params, address])  # noqa: S608
        assert cursor.fetchone()[0] == hashing.address_hash(address)
