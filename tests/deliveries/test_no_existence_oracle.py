"""A user refused an action gets the same answer whether the id it names exists or not:
the permission is checked before anything is looked up, in the API and the console."""

from __future__ import annotations

import re

import pytest

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Audience, Profile
from envoi.bounces.models import Quarantine
from tests.support.api import Api
from tests.support.deliveries import delivery_in
from tests.support.scenario import delivery_payload
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

MISSING = 999_999

DELIVERY_CALLS = [
    ("get", ""), ("patch", ""), ("delete", ""),
    *[("post", f"/{name}") for name in ("prepare", "approve", "reject", "confirm", "pause",
                                        "resume", "stop", "activate",
                                        "withdraw-confirmation", "proof", "compute-stats")],
    ("get", "/executions"), ("get", "/logs/sending"), ("get", "/logs/exclusions"),
    ("get", "/logs/tracking"), ("get", "/kpis"),
]


def answer(api: Api, method: str, path: str) -> tuple[int, str]:
    if method == "patch":
        response = api.patch(path, {"audience_id": MISSING})
    elif method == "delete":
        response = api.client.delete(f"/api/v1{path}", headers=api._headers())
    else:
        response = getattr(api, method)(path)
    return response.status_code, response.json()["detail"]


@pytest.mark.parametrize("roles", [(), ("import",)], ids=["no role", "import only"])
def test_the_api_refuses_before_it_looks_anything_up(roles):
    delivery = delivery_in("editing")
    api = Api("nobody", *roles)
    for method, suffix in DELIVERY_CALLS:
        existing = answer(api, method, f"/deliveries/{delivery.pk}{suffix}")
        missing = answer(api, method, f"/deliveries/{MISSING}{suffix}")
        assert existing[0] == missing[0] == 403, (method, suffix, existing, missing)
        assert existing[1] == missing[1], (method, suffix)

    payload = delivery_payload(MISSING)
    refused = api.post("/deliveries", payload)
    assert refused.status_code == 403, refused.content  # not 400 "audience … does not exist"
    audience = Audience.objects.get(name="All")
    assert api.post("/deliveries", delivery_payload(audience.pk)).json() == refused.json()

    profile = Profile.objects.first()
    assert profile is not None
    history = [api.get(f"/profiles/{pk}/history") for pk in (profile.pk, MISSING)]
    assert [h.status_code for h in history] == [403, 403]
    assert AuditEntry.objects.filter(actor_name="nobody", allowed=False,
                                     delivery_id=MISSING).exists()


def test_a_user_who_may_act_still_learns_that_an_id_does_not_exist():
    api = Api("paula", "prepare_deliveries")
    assert api.get(f"/deliveries/{MISSING}").status_code == 404
    assert api.post("/deliveries", delivery_payload(MISSING)).status_code == 400
    assert api.get(f"/deliveries/{2**64}").status_code in (404, 422)


def console_answer(client, path: str) -> tuple[int, str]:
    response = client.post(path, {"request_confirmation": "on"}, follow=True)
    page = response.content.decode()
    return response.status_code, without_id(page[page.find("<main"):], MISSING)


def without_id(page: str, pk: int) -> str:
    """The page with the id it names made neutral (a whole number only: not the 1 of h1)."""
    return re.sub(rf"\b{pk}\b", "<pk>", page)


@pytest.mark.parametrize("roles", [(), ("import",)], ids=["no role", "import only"])
def test_the_console_refuses_before_it_looks_anything_up(roles):
    delivery = delivery_in("editing")
    record = Quarantine.objects.first()
    assert record is not None
    client = signed_in("nobody", *roles)
    paths = [f"/deliveries/{{}}/do/{name}/" for name in
             ("prepare", "approve", "reject", "confirm", "activate", "withdraw_confirmation",
              "pause", "resume", "stop", "proof")]
    paths += ["/deliveries/{}/delete/", "/deliveries/{}/compute-stats/",
              "/deliveries/{}/schedule/request-confirmation/"]
    for path in paths:
        existing = console_answer(client, path.format(delivery.pk))
        missing = console_answer(client, path.format(MISSING))
        assert existing[0] == missing[0] == 403, (path, existing[0], missing[0])
        assert without_id(existing[1], delivery.pk) == missing[1], path
    released = [client.post(f"/quarantine/{pk}/release/").status_code
                for pk in (record.pk, MISSING)]
    assert released == [403, 403]
