"""The bounce and quarantine API: qualification rules (admin only, audited, used by the
send path at once), filters, and clear 400/403/404 answers."""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from envoi.bounces.ingest import receive
from envoi.bounces.models import Quarantine
from envoi.bounces.qualification import qualify
from envoi.sending.models import SendingLog
from tests.support.api import Api
from tests.support.deliveries import delivery_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return Api("ada", "administration")


def test_rules_are_added_listed_and_deleted_by_administrators_only(admin):
    preparer = Api("paula", "prepare_deliveries")
    rule = {"failure_type": "hard", "reason": "user_unknown", "smtp_code": 550,
            "pattern": r"inbox gone", "note": "a provider's wording"}
    refused = preparer.post("/qualification-rules", rule)
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("Your permissions do not allow you to manage "
                                        "qualification rules.")
    created = admin.ok(admin.post("/qualification-rules", rule), 201)
    listed = admin.ok(admin.get("/qualification-rules"))
    assert [r["id"] for r in listed["rules"]] == [created["id"]]
    assert {"position": 5, "smtp_code": 0, "enhanced": "5.1.1", "pattern": "",
            "failure_type": "hard", "reason": "user_unknown"} in listed["builtin"]
    assert qualify(550, "", "550 Inbox gone here").reason == "user_unknown"
    assert qualify(450, "", "450 Inbox gone here").reason == "not_defined"
    admin.ok(admin.client.delete(f"/api/v1/qualification-rules/{created['id']}",
                                 headers=admin._headers()), 204)
    assert qualify(550, "", "550 Inbox gone here").reason == "not_defined"
    actions = list(AuditEntry.objects.filter(allowed=True).order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["qualification.add_rule", "qualification.delete_rule"]


def test_an_administrators_rule_comes_before_the_builtin_table(admin):
    assert qualify(550, "5.1.1", "User unknown").failure_type == "hard"
    admin.ok(admin.post("/qualification-rules", {"failure_type": "soft",
                                                 "reason": "not_defined", "enhanced": "5.1.1",
                                                 "pattern": "greylist"}), 201)
    assert qualify(550, "5.1.1", "greylisted, user unknown").failure_type == "soft"
    assert qualify(550, "5.1.1", "User unknown").failure_type == "hard"


@pytest.mark.parametrize("rule, where", [
    ({"failure_type": "fatal", "reason": "x", "smtp_code": 550}, "failure_type"),
    ({"failure_type": "hard", "reason": "Bad Reason", "smtp_code": 550}, "reason"),
    ({"failure_type": "hard", "reason": "x", "smtp_code": 99}, "smtp_code"),
    ({"failure_type": "hard", "reason": "x", "enhanced": "5.1.1.1"}, "enhanced"),
    ({"failure_type": "hard", "reason": "x", "pattern": "(unclosed"}, "pattern"),
    ({"failure_type": "hard", "reason": "x"}, "at least one"),
])
def test_bad_rules_are_refused_saying_where(admin, rule, where):
    response = admin.post("/qualification-rules", rule)
    assert response.status_code == 400 and where in response.json()["detail"], response.json()


def test_a_rule_applies_to_the_send_path(admin, relay, send_all):
    admin.ok(admin.post("/qualification-rules", {"failure_type": "hard",
                                                 "reason": "account_disabled",
                                                 "pattern": "frozen account"}), 201)
    delivery = delivery_in("in_progress")
    relay.script("ada@example.org", "554 frozen account")
    send_all()
    row = SendingLog.objects.get(delivery=delivery, address="ada@example.org")
    assert (row.status, row.failure_type, row.failure_reason) == (
        "failed", "hard", "account_disabled")
    assert Quarantine.objects.get(address="ada@example.org").status == "quarantined"


def test_quarantine_queries(admin):
    assert admin.get("/quarantine", status="lost").status_code in (400, 422)
    assert admin.get("/quarantine/nobody@example.com").status_code == 404
    assert admin.post("/quarantine/nobody@example.com/release").status_code == 404
    Quarantine.objects.create(address="q@example.com", status="quarantined",
                              reason="user_unknown")
    Quarantine.objects.create(address="ok@example.com", status="valid")
    listed = admin.ok(admin.get("/quarantine"))
    assert [q["address"] for q in listed["results"]] == ["q@example.com"]
    assert admin.ok(admin.get("/quarantine", reason="mailbox_full"))["count"] == 0
    assert admin.ok(admin.get("/quarantine", status="valid"))["count"] == 1


def test_received_mail_is_listed_by_outcome(admin):
    receive(b"Subject: hello\r\n\r\nnot a bounce\r\n")
    listed = admin.ok(admin.get("/bounces", outcome="unparseable"))
    assert listed["count"] == 1 and listed["results"][0]["subject"] == "hello"
    assert admin.ok(admin.get("/bounces", outcome="matched"))["count"] == 0
    one = admin.ok(admin.get(f"/bounces/{listed['results'][0]['id']}"))
    assert one["error"].startswith("neither")
    assert admin.get("/bounces/999999").status_code == 404
    assert Api("paula", "prepare_deliveries").get("/bounces").status_code == 403
