"""Every role × every delivery action, through the API (SPEC §9).

The expected matrix is written out here from the specification, independently of the
permission table in the code.
"""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from tests.support.api import Api
from tests.support.deliveries import delivery_in

pytestmark = pytest.mark.django_db

ROLES = ["administration", "prepare_deliveries", "approve_deliveries", "start_deliveries",
         "workflow", "import", "export"]

ALLOWED = {
    "create": {"prepare_deliveries", "start_deliveries"},
    "edit": {"prepare_deliveries", "start_deliveries"},
    "prepare": {"prepare_deliveries", "start_deliveries"},
    "proof": {"prepare_deliveries", "start_deliveries"},
    "delete": {"prepare_deliveries", "start_deliveries"},
    "approve": {"approve_deliveries"},
    "reject": {"approve_deliveries"},
    "confirm": {"start_deliveries"},
    "pause": {"start_deliveries"},
    "resume": {"start_deliveries"},
    "stop": {"start_deliveries"},
    "import": {"import"},
}

# action -> (state the delivery must be in, request, expected success status)
CASES = {
    "create": (None, lambda api, d, aud: api.post("/deliveries", {
        "label": "x", "sender": "a@example.com", "subject": "s", "text_body": "t",
        "audience_id": aud}), 201),
    "edit": ("editing", lambda api, d, aud: api.patch(f"/deliveries/{d}", {"label": "y"}), 200),
    "prepare": ("editing", lambda api, d, aud: api.post(f"/deliveries/{d}/prepare"), 200),
    "proof": ("pending_approval", lambda api, d, aud: api.post(f"/deliveries/{d}/proof"), 200),
    "delete": ("editing", lambda api, d, aud: api.client.delete(
        f"/api/v1/deliveries/{d}", headers=api._headers()), 204),
    "approve": ("pending_approval", lambda api, d, aud: api.post(f"/deliveries/{d}/approve"),
                200),
    "reject": ("pending_approval", lambda api, d, aud: api.post(
        f"/deliveries/{d}/reject", {"reason": "The subject is wrong."}), 200),
    "confirm": ("approved", lambda api, d, aud: api.post(f"/deliveries/{d}/confirm"), 200),
    "pause": ("in_progress", lambda api, d, aud: api.post(f"/deliveries/{d}/pause"), 200),
    "resume": ("paused", lambda api, d, aud: api.post(f"/deliveries/{d}/resume"), 200),
    "stop": ("in_progress", lambda api, d, aud: api.post(f"/deliveries/{d}/stop"), 200),
    "import": (None, lambda api, d, aud: api.post(
        "/profiles/import", "email\nnew@example.com\n", content_type="text/csv"), 200),
}

SENDING_SENTENCES = {
    action: f"Your permissions do not allow you to {action} a delivery."
    for action in ("confirm", "pause", "resume", "stop")
}


@pytest.mark.parametrize("action", list(CASES))
@pytest.mark.parametrize("role", ROLES)
def test_role_may_or_may_not_act(role, action, relay):
    state, call, success = CASES[action]
    delivery = delivery_in(state) if state else delivery_in("editing")
    api = Api(f"user-{role}", role)
    response = call(api, delivery.pk, delivery.audience_id)
    if role in ALLOWED[action]:
        assert response.status_code == success, response.content
        return
    assert response.status_code == 403, response.content
    detail = response.json()["detail"]
    assert detail == SENDING_SENTENCES.get(action, detail)
    assert detail.startswith("Your permissions do not allow you to")
    refusal = AuditEntry.objects.filter(actor=api.user, allowed=False).get()
    assert refusal.detail["reason"] == detail


def test_roles_add_up_across_groups():
    from django.contrib.auth.models import Group

    from envoi.accounts.models import GroupRole
    from envoi.accounts.services import can, create_user

    user = create_user("both", [])
    approvers, starters = Group.objects.create(name="a"), Group.objects.create(name="s")
    GroupRole.objects.create(group=approvers, role="approve_deliveries")
    GroupRole.objects.create(group=starters, role="start_deliveries")
    assert not can(user, "delivery.confirm")
    user.groups.add(approvers, starters)
    assert can(user, "delivery.approve") and can(user, "delivery.confirm")


def test_missing_or_wrong_token_is_401(client):
    response = client.get("/api/v1/deliveries/1", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing or invalid bearer token."}


@pytest.mark.parametrize("action,sentence", [
    ("delivery.confirm", "Your permissions do not allow you to confirm a delivery."),
    ("delivery.view", "Your permissions do not allow you to view deliveries."),
    ("profile.import", "Your permissions do not allow you to import profiles."),
    ("logs.view", "Your permissions do not allow you to view logs."),
    ("outbox.view", "Your permissions do not allow you to view the outbox."),
])
def test_refusals_read_as_sentences(action, sentence):
    from envoi.accounts.roles import denial_message

    assert denial_message(action) == sentence
