"""Templates (list, search, create from a delivery or from fields, read, edit, delete,
new delivery from one) and duplication of a delivery."""

from __future__ import annotations

import pytest

from envoi.content.models import Template
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from tests.content.support import DEFAULT_MJML, VARIANTS, delivery_fields, make_people
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return Api("paula", "prepare_deliveries")


@pytest.fixture
def delivery(api):
    make_people()
    audience = api.ok(api.post("/audiences", {"name": "All", "filter": ""}), 201)
    return api.ok(api.post("/deliveries", delivery_fields(audience["id"], rate_limit=7)), 201)


def test_save_a_delivery_as_a_template_and_create_a_delivery_from_it(api, delivery):
    template = api.ok(api.post("/templates", {"name": "Spring sale",
                                              "delivery_id": delivery["id"]}), 201)
    assert template["content_mode"] == "mjml" and template["mjml_body"] == DEFAULT_MJML
    assert [v["language"] for v in template["variants"]] == ["ko", "ja"]
    assert template["variants"][0]["subject"] == VARIANTS[0]["subject"]
    created = api.ok(api.post(f"/templates/{template['id']}/deliveries", {
        "label": "Spring again", "sender": "news@shop.example.com",
        "audience_id": delivery["audience_id"]}), 201)
    assert created["status"] == "editing" and created["label"] == "Spring again"
    assert created["mjml_body"] == DEFAULT_MJML and created["findings"] == []
    assert [v["language"] for v in created["variants"]] == ["ko", "ja"]
    assert "Hello {{ first_name" in created["compiled_html"]


def test_templates_from_fields_listed_searched_edited_deleted(api):
    first = api.ok(api.post("/templates", {"name": "Welcome", "subject": "Hi",
                                           "html_body": "<p>Hi {{ first_name }}</p>"}), 201)
    api.ok(api.post("/templates", {"name": "Newsletter", "description": "monthly"}), 201)
    listed = api.ok(api.get("/templates"))
    assert listed["count"] == 2
    assert [t["name"] for t in api.ok(api.get("/templates", search="MONTH"))["results"]] == [
        "Newsletter"]
    edited = api.ok(api.patch(f"/templates/{first['id']}", {
        "name": "Welcome v2", "variants": [{"language": "ko", "subject": "안녕"}]}))
    assert edited["name"] == "Welcome v2" and edited["variants"][0]["language"] == "ko"
    assert api.ok(api.get(f"/templates/{first['id']}"))["name"] == "Welcome v2"
    assert api.client.delete(f"/api/v1/templates/{first['id']}",
                             headers=api._headers()).status_code == 204
    assert api.get(f"/templates/{first['id']}").status_code == 404
    assert list(Template.objects.values_list("name", flat=True)) == ["Newsletter"]


@pytest.mark.parametrize("payload,status,detail", [
    ({"name": ""}, 422, "name"),
    ({"name": "x", "delivery_id": 999999}, 400, "delivery_id: delivery 999999 does not exist."),
    ({"name": "x", "variants": [{"language": "!!"}]}, 400, "variants[0].language"),
    ({"name": "x", "colour": "red"}, 422, "colour"),
])
def test_bad_templates_are_refused_naming_the_field(api, payload, status, detail):
    response = api.post("/templates", payload)
    assert response.status_code == status and detail in response.content.decode()


def test_templates_follow_the_permission_table(api):
    importer = Api("ivan", "import")
    assert importer.get("/templates").status_code == 403
    viewer = Api("vera", "approve_deliveries")
    assert viewer.ok(viewer.get("/templates"))["count"] == 0
    refused = viewer.post("/templates", {"name": "x"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Your permissions do not allow you to edit templates."


def test_duplicate_copies_content_audience_and_settings_not_logs(api, delivery, relay):
    api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))
    assert SendingLog.objects.filter(delivery_id=delivery["id"]).count() == 6
    copy = api.ok(api.post(f"/deliveries/{delivery['id']}/duplicate"), 201)
    assert copy["id"] != delivery["id"] and copy["status"] == "editing"
    assert copy["label"] == "Spring (copy)"
    for name in ("subject", "preheader", "mjml_body", "content_mode", "sender",
                 "audience_id", "rate_limit", "compiled_html", "variants"):
        assert copy[name] == delivery[name], name
    assert copy["counts"]["to_deliver"] == 0 and copy["approval"] == {}
    assert SendingLog.objects.filter(delivery_id=copy["id"]).count() == 0
    named = api.ok(api.post(f"/deliveries/{delivery['id']}/duplicate",
                            {"label": "Summer"}), 201)
    assert named["label"] == "Summer" and Delivery.objects.count() == 3
    assert api.post("/deliveries/999999/duplicate").status_code == 404
