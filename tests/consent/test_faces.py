"""The API and CLI faces of consent: records with their proof, permissions, erasure
(409 the second time), the JSON export, and unsubscribe reasons per delivery."""

from __future__ import annotations

import json

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Profile
from envoi.cli import main
from envoi.consent.models import Erasure
from envoi.consent.services import count_unsubscription, has_consent
from tests.support.api import Api
from tests.support.deliveries import prepared_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    create_profiles([{"email": "mina@example.com", "first_name": "민아", "language": "ko"}])
    return Profile.objects.get()


def test_consent_records_through_the_api(profile):
    admin = Api("admin", "administration")
    path = f"/profiles/{profile.pk}/consents"
    assert admin.ok(admin.get(path)) == []
    given = admin.ok(admin.post(path, {"channel": "email", "status": "granted",
                                       "wording": "Said yes at the shop counter",
                                       "ip": "198.51.100.7"}))
    assert given[0]["status"] == "granted" and given[0]["source"] == "api"
    assert given[0]["events"][0]["ip"] == "198.51.100.7"
    assert has_consent(profile, "email")
    taken = admin.ok(admin.post(path, {"channel": "email", "status": "withdrawn"}))
    assert [e["move"] for e in taken[0]["events"]] == ["grant", "withdraw"]
    assert not has_consent(profile, "email")

    bad_ip = admin.post(path, {"channel": "email", "status": "granted", "ip": "10.0.0.999"})
    assert bad_ip.status_code == 400 and "ip" in bad_ip.json()["detail"]
    refused = admin.post(path, {"channel": "fax", "status": "granted"})
    assert refused.status_code in (400, 422) and "channel" in refused.content.decode()
    preparer = Api("pat", "prepare_deliveries")
    assert preparer.post(path, {"channel": "email", "status": "granted"}).status_code == 403
    assert preparer.post(f"/profiles/{profile.pk}/erase").status_code == 403
    assert admin.get("/profiles/999999/consents").status_code == 404


def test_erase_and_export_through_the_api(profile):
    admin = Api("admin", "administration")
    exported = admin.ok(admin.get(f"/profiles/{profile.pk}/export"))
    assert exported["profile"]["first_name"] == "민아"
    erased = admin.ok(admin.post(f"/profiles/{profile.pk}/erase"))
    assert erased == {"profile_id": profile.pk, "suppressed": ["email"], "messages": 0}
    again = admin.post(f"/profiles/{profile.pk}/erase")
    assert again.status_code == 409 and "already erased" in again.json()["detail"]
    assert admin.ok(admin.get(f"/profiles/{profile.pk}"))["email"] == ""


def test_unsubscribe_reasons_per_delivery(settings):
    settings.ENVOI_REQUIRE_CONSENT = False
    delivery = prepared_delivery("why", 2)
    count_unsubscription(delivery.pk, 1, "too_many")
    count_unsubscription(delivery.pk, 2, "")
    viewer = Api("viewer", "approve_deliveries")
    assert viewer.ok(viewer.get(f"/deliveries/{delivery.pk}/unsubscribe-reasons")) == {
        "delivery_id": delivery.pk, "unsubscriptions": 2,
        "reasons": {"too_many": 1, "none": 1}}


def test_cli_erases_and_exports(profile, capsys):
    assert main(["profile", "export", str(profile.pk)]) == 0
    assert json.loads(capsys.readouterr().out)["profile"]["email"] == "mina@example.com"
    assert main(["profile", "erase", str(profile.pk)]) == 0
    assert f"Profile {profile.pk} erased" in capsys.readouterr().out
    assert Erasure.objects.filter(profile_id=profile.pk).exists()
    assert main(["profile", "erase", str(profile.pk)]) == 1
    assert "already erased" in capsys.readouterr().err
    assert main(["profile", "erase", "424242"]) == 1
