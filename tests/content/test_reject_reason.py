"""Rejecting asks for a reason, in the API as in the console: kept on the delivery
until it is approved, and audited."""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from tests.content.support import delivery_fields, make_people
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending():
    make_people()
    preparer = Api("paula", "prepare_deliveries")
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    delivery = preparer.ok(preparer.post("/deliveries", delivery_fields(audience["id"])), 201)
    preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    return delivery["id"]


@pytest.mark.parametrize("payload", [None, {}, {"reason": ""}, {"reason": "   "}])
def test_reject_without_a_reason_is_refused_naming_it(pending, payload):
    approver = Api("ana", "approve_deliveries")
    response = approver.post(f"/deliveries/{pending}/reject", payload)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("reason:")
    assert approver.ok(approver.get(f"/deliveries/{pending}"))["status"] == "pending_approval"


def test_the_reason_is_kept_audited_and_cleared_by_an_approval(pending):
    approver = Api("ana", "approve_deliveries")
    rejected = approver.ok(approver.post(f"/deliveries/{pending}/reject",
                                         {"reason": "The Korean subject has a typo."}))
    assert rejected["status"] == "editing"
    assert rejected["rejection"]["reason"] == "The Korean subject has a typo."
    assert rejected["rejection"]["by"] == "ana"
    entry = AuditEntry.objects.get(action="delivery.reject", allowed=True)
    assert entry.detail["reason"] == "The Korean subject has a typo."
    preparer = Api("pete", "prepare_deliveries")
    preparer.ok(preparer.post(f"/deliveries/{pending}/prepare"))
    approved = approver.ok(approver.post(f"/deliveries/{pending}/approve"))
    assert approved["status"] == "approved" and approved["rejection"] == {}


def test_a_reason_past_its_length_is_refused(pending):
    approver = Api("ana", "approve_deliveries")
    response = approver.post(f"/deliveries/{pending}/reject", {"reason": "x" * 2001})
    assert response.status_code == 422 and "reason" in response.content.decode()


def test_the_cli_rejects_with_a_reason_and_refuses_without(pending, capsys):
    from envoi.accounts.services import create_user
    from envoi.cli import main
    from envoi.deliveries.models import Delivery

    create_user("rita", ["approve_deliveries"])
    assert main(["delivery", "reject", str(pending), "--as", "rita"]) == 1
    assert "reason: say why the delivery is rejected." in capsys.readouterr().err
    assert main(["delivery", "reject", str(pending), "--as", "rita",
                 "--reason", "Wrong audience."]) == 0
    assert Delivery.objects.get(pk=pending).rejection["reason"] == "Wrong audience."
