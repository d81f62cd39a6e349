"""Bad input to the content endpoints is refused with what and where, never a 500 —
NUL characters included, which PostgreSQL cannot store."""

from __future__ import annotations

import pytest

from envoi.content.models import Template
from envoi.deliveries.models import Delivery
from tests.support.api import Api

pytestmark = pytest.mark.django_db

BASE = {"label": "x", "sender": "a@example.com", "subject": "ab"}


@pytest.fixture
def api():
    return Api("paula", "prepare_deliveries")


@pytest.mark.parametrize("path,payload,where", [
    ("/deliveries", {**BASE, "subject": "a\x00b"}, "body.subject"),
    ("/deliveries", {**BASE, "mjml_body": "\x00"}, "body.mjml_body"),
    ("/deliveries", {**BASE, "visual_project": {"a": ["\x00"]}}, "body.visual_project.a[0]"),
    ("/deliveries", {**BASE, "variants": [{"language": "ko", "subject": "\x00"}]},
     "body.variants[0].subject"),
    ("/templates", {"name": "a\x00"}, "body.name"),
])
def test_nul_characters_are_refused_by_path(api, path, payload, where):
    response = api.post(path, payload)
    assert response.status_code == 400
    assert f"{where}: contains a NUL character" in response.json()["detail"]
    assert not Delivery.objects.exists() and not Template.objects.exists()


def test_nul_in_preview_or_search_is_refused(api):
    delivery = api.ok(api.post("/deliveries", BASE), 201)
    for payload in ({"email": "a\x00"}, {"language": "k\x00"}):
        response = api.post(f"/deliveries/{delivery['id']}/preview", payload)
        assert response.status_code == 400
    assert api.get("/templates", search="a\x00").status_code == 400


def test_preview_of_an_empty_draft_says_what_is_missing(api):
    delivery = api.ok(api.post("/deliveries", BASE), 201)
    shown = api.ok(api.post(f"/deliveries/{delivery['id']}/preview"))
    assert shown["html"] == "" and shown["profile"]["email"] is None
    assert [f["code"] for f in shown["findings"]] == ["content.empty", "audience.missing"]


def test_preview_of_a_template_that_does_not_parse_shows_the_finding(api):
    delivery = api.ok(api.post("/deliveries", {**BASE, "html_body": "<p>{% if x %}</p>",
                                                "is_marketing": False}), 201)
    shown = api.ok(api.post(f"/deliveries/{delivery['id']}/preview"))
    assert shown["html"] == "" and shown["size"] == 0
    assert [(f["field"], f["line"]) for f in shown["findings"]] == [("html_body", 1),
                                                                    ("audience", None)]


def test_findings_name_fields_by_label_never_by_key(api):
    from envoi.content.checks import content_findings
    from envoi.deliveries.models import Delivery as Model

    delivery = Model.objects.create(label="x", sender="a@example.com", subject="s",
                                    reply_to="not an address", html_body="<p>x</p>",
                                    is_marketing=False)
    [finding] = content_findings(delivery)
    assert finding.field == "reply_to" and finding.message.startswith("Reply-to: ")


def test_too_many_tracked_links_across_variants_is_a_finding(api, monkeypatch):
    from envoi.content import checks

    monkeypatch.setattr(checks, "MAX_LINKS", 3)
    page = "".join(f'<a href="https://shop.example.com/{n}">{n}</a>' for n in range(2))
    delivery = api.ok(api.post("/deliveries", {
        **BASE, "html_body": page, "is_marketing": False,
        "variants": [{"language": "ko", "html_body": page}]}), 201)
    assert [f["code"] for f in delivery["findings"]] == ["links.too_many"]
