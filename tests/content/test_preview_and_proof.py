"""Preview (rendered as a profile, in a variant, recording nothing) and proofs to typed
addresses, in a chosen variant, as a chosen profile."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from envoi.deliveries.models import Proof
from envoi.tracking.models import TrackingEvent
from tests.content.support import delivery_fields, html_of, make_people
from tests.support.api import Api
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return Api("paula", "prepare_deliveries")


@pytest.fixture
def delivery(api):
    make_people()
    audience = api.ok(api.post("/audiences", {"name": "All", "filter": ""}), 201)
    return api.ok(api.post("/deliveries", delivery_fields(audience["id"])), 201)


def test_preview_as_a_korean_profile(api, delivery):
    minji = Profile.objects.get(email="minji@example.com")
    shown = api.ok(api.post(f"/deliveries/{delivery['id']}/preview",
                            {"profile_id": minji.pk}))
    assert shown["language"] == "ko" and shown["subject"] == "Minji님, 봄 세일"
    assert "안녕하세요 Minji" in shown["html"] and "안녕하세요 Minji" in shown["text"]
    assert shown["size"] > len(shown["html"].encode()) // 2
    assert shown["findings"] == []
    links = {link["url"]: link["tracked"] for link in shown["links"]}
    assert links["https://shop.example.com/ko/spring?who=minji@example.com"] is True
    assert links["http://testserver/u/proof"] is False  # unsubscribe: never tracked
    assert TrackingEvent.objects.count() == 0


def test_preview_by_email_in_another_language_and_a_sample(api, delivery):
    by_email = api.ok(api.post(f"/deliveries/{delivery['id']}/preview",
                               {"email": "ADA@example.org", "language": "ja"}))
    assert by_email["subject"] == "Ada様、春のセール" and by_email["profile"]["first_name"] == "Ada"
    sample = api.ok(api.post(f"/deliveries/{delivery['id']}/preview"))
    assert sample["profile"]["email"] == "minji@example.com"  # the audience's first
    assert sample["language"] == "ko"
    default = api.ok(api.post(f"/deliveries/{delivery['id']}/preview",
                              {"email": "bob@example.net"}))
    assert default["language"] == "" and default["subject"] == "Spring for Bob"


@pytest.mark.parametrize("payload,detail", [
    ({"profile_id": 999999}, "profile_id: profile 999999 does not exist."),
    ({"email": "nobody@example.com"}, "email: no profile has the address"),
    ({"language": "de"}, "language: the delivery has no 'de' variant."),
])
def test_preview_refuses_what_names_nothing(api, delivery, payload, detail):
    response = api.post(f"/deliveries/{delivery['id']}/preview", payload)
    assert response.status_code == 400 and detail in response.json()["detail"]


def test_preview_shows_the_findings_of_a_draft(api, delivery):
    api.ok(api.patch(f"/deliveries/{delivery['id']}", {"subject": "Hi {{ frist_name }}"}))
    shown = api.ok(api.post(f"/deliveries/{delivery['id']}/preview",
                            {"email": "bob@example.net"}))
    assert [(f["field"], f["line"], f["column"]) for f in shown["findings"]] == [
        ("subject", 1, 7)]


def test_proof_to_typed_addresses_in_a_variant_as_a_profile(api, delivery, relay):
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    haruto = Profile.objects.get(email="haruto@example.jp")
    proof = api.ok(api.post(f"/deliveries/{delivery['id']}/proof", {
        "addresses": ["Reviewer <reviewer@agency.example>", "boss@shop.example.com"],
        "language": "ko", "profile_id": haruto.pk}))
    assert [r["address"] for r in proof["recipients"]] == [
        "reviewer@agency.example", "boss@shop.example.com"]
    assert [m.rcpt_to for m in relay.messages] == [("reviewer@agency.example",),
                                                   ("boss@shop.example.com",)]
    message = parse(relay.messages[0].data)
    assert message["Subject"] == "[Proof 1] Haruto님, 봄 세일"
    html = html_of(message)
    assert "안녕하세요 Haruto" in html
    assert "https://shop.example.com/ko/spring?who=haruto@example.jp" in html  # untracked
    assert "/c/" not in html and "/o/" not in html
    assert Proof.objects.get().recipients[0]["variant"] == "ko"


def test_proof_without_choices_goes_to_test_profiles_in_their_variant(api, delivery, relay):
    Profile.objects.create(email="tester@example.com", first_name="Tess", language="ja",
                           is_test=True)
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    api.ok(api.post(f"/deliveries/{delivery['id']}/proof"))
    [received] = relay.messages
    assert received.rcpt_to == ("tester@example.com",)
    assert parse(received.data)["Subject"] == "[Proof 1] Tess様、春のセール"


@pytest.mark.parametrize("payload,status,detail", [
    ({"addresses": ["not an address"]}, 400, "addresses[0]"),
    ({"addresses": ["a@example.com"], "language": "de"}, 400, "no 'de' variant"),
    ({"addresses": ["a@example.com"], "profile_id": 999999}, 400,
     "profile_id: profile 999999 does not exist."),
])
def test_bad_proof_requests_say_what(api, delivery, relay, payload, status, detail):
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    response = api.post(f"/deliveries/{delivery['id']}/proof", payload)
    assert response.status_code == status and detail in response.json()["detail"]
    assert relay.messages == []


def test_proof_to_chosen_test_profiles_and_a_typed_address(api, delivery, relay):
    tess = Profile.objects.create(email="tess@example.com", first_name="Tess", language="ja",
                                  is_test=True)
    Profile.objects.create(email="tom@example.com", first_name="Tom", is_test=True)
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    api.ok(api.post(f"/deliveries/{delivery['id']}/proof", {
        "test_profile_ids": [tess.pk], "addresses": ["agency@example.com"]}))
    assert [m.rcpt_to for m in relay.messages] == [("tess@example.com",),
                                                   ("agency@example.com",)]
    assert parse(relay.messages[0].data)["Subject"] == "[Proof 1] Tess様、春のセール"


@pytest.mark.parametrize("ids,status,detail", [
    ([1], 400, "is not a test profile"),  # minji: a profile, not a test profile
    ([2**63], 422, "test_profile_ids"),
])
def test_a_chosen_profile_must_be_a_test_profile(api, delivery, relay, ids, status, detail):
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    ids = [Profile.objects.get(email="minji@example.com").pk] if ids == [1] else ids
    response = api.post(f"/deliveries/{delivery['id']}/proof", {"test_profile_ids": ids})
    assert response.status_code == status and detail in response.content.decode()
    assert relay.messages == []
