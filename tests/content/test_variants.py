"""Language variants end to end: each profile receives its language's variant (or the
default), through prepare, approve, confirm and a real SMTP server."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from envoi.sending.models import SendingLog
from envoi.tracking.models import TrackingEvent
from tests.content.support import (
    PEOPLE,
    SUBJECT_START,
    delivery_fields,
    html_of,
    make_people,
    text_of,
)
from tests.support.api import Api
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return {"preparer": Api("paula", "prepare_deliveries"),
            "approver": Api("andre", "approve_deliveries"),
            "starter": Api("stella", "start_deliveries")}


def _sent_delivery(team, relay, send_all) -> dict:
    preparer, approver, starter = team["preparer"], team["approver"], team["starter"]
    make_people()
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    created = preparer.ok(preparer.post("/deliveries", delivery_fields(audience["id"])), 201)
    assert created["findings"] == [], created["findings"]
    assert [v["language"] for v in created["variants"]] == ["ko", "ja"]
    assert "mj-column" in created["compiled_html"] or "<table" in created["compiled_html"]
    prepared = preparer.ok(preparer.post(f"/deliveries/{created['id']}/prepare"))
    assert prepared["status"] == "pending_approval", prepared["preparation"]
    assert prepared["variant_counts"] == {"ko": 2, "ja": 1, "": 3}
    approved = approver.ok(approver.post(f"/deliveries/{created['id']}/approve"))
    assert approved["approval"]["variants"] == {"ko": 2, "ja": 1, "": 3}
    starter.ok(starter.post(f"/deliveries/{created['id']}/confirm"))
    send_all()
    return starter.ok(starter.get(f"/deliveries/{created['id']}"))


def test_each_profile_receives_its_variant(team, relay, send_all):
    final = _sent_delivery(team, relay, send_all)
    assert final["status"] == "finished" and final["counts"]["sent"] == len(PEOPLE)
    received = {message.rcpt_to[0]: parse(message.data) for message in relay.messages}
    assert set(received) == set(PEOPLE)
    for address, (_, variant) in PEOPLE.items():
        message = received[address]
        name = address.split("@")[0].title()
        assert message["Subject"] == SUBJECT_START[variant].format(name=name), address
        html = html_of(message)
        # MJML's responsive output, personalized, in the variant's words.
        assert "@media only screen and (min-width:480px)" in html
        greeting = {"ko": "안녕하세요", "ja": "こんにちは", "": "Hello"}[variant]
        assert f"{greeting} {name}" in html, address
        preheader = {"ko": "봄 한정", "ja": "春限定", "": "This season only"}[variant]
        assert preheader in html
        text = text_of(message)  # generated from the HTML: no text part was written
        assert f"{greeting} {name}" in text and "/u/" in text
    rows = dict(SendingLog.objects.values_list("address", "variant"))
    assert rows == {address: variant for address, (_, variant) in PEOPLE.items()}


def test_a_click_in_a_variant_leads_to_that_variants_link(team, relay, send_all):
    _sent_delivery(team, relay, send_all)
    by_address = {m.rcpt_to[0]: parse(m.data) for m in relay.messages}
    client = Client()
    for address, lang in [("haruto@example.jp", "ja"), ("minji@example.com", "ko"),
                          ("ada@example.org", "en")]:
        html = html_of(by_address[address])
        [click] = set(re.findall(r'href="(http://testserver/c/[^"]+)"', html))
        response = client.get(click.removeprefix("http://testserver"))
        assert response.status_code == 302
        assert response["Location"] == (
            f"https://shop.example.com/{lang}/spring?who={address}")
    assert TrackingEvent.objects.filter(kind="click").count() == 3


def test_the_content_hash_covers_every_variant(team):
    preparer, approver = team["preparer"], team["approver"]
    make_people()
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    created = preparer.ok(preparer.post("/deliveries", delivery_fields(audience["id"])), 201)
    preparer.ok(preparer.post(f"/deliveries/{created['id']}/prepare"))
    approver.ok(approver.post(f"/deliveries/{created['id']}/approve"))
    variants = [dict(v) for v in created["variants"]]
    variants[1]["subject"] = "{{ first_name }}様、夏のセール"
    edited = preparer.ok(preparer.patch(f"/deliveries/{created['id']}",
                                        {"variants": variants}))
    assert edited["status"] == "editing" and edited["approval"] == {}
    assert edited["variant_counts"] == {} and edited["counts"]["to_deliver"] == 0
    assert edited["variants"][1]["subject"] == "{{ first_name }}様、夏のセール"


@pytest.mark.parametrize("variants,detail", [
    ([{"language": "korean!"}], "variants[0].language"),
    ([{"language": "ko"}, {"language": "KO"}], "a second variant for 'ko'"),
])
def test_bad_variants_are_refused_naming_them(team, variants, detail):
    preparer = team["preparer"]
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    response = preparer.post("/deliveries", delivery_fields(audience["id"],
                                                            variants=variants))
    assert response.status_code == 400 and detail in response.json()["detail"]


def test_a_variant_with_an_error_blocks_preparation_on_its_field(team):
    preparer = team["preparer"]
    audience = preparer.ok(preparer.post("/audiences", {"name": "All", "filter": ""}), 201)
    broken = [{"language": "ko", "subject": "{{ frist_name }}님",
               "mjml_body": "<mjml><mj-body>\n<mj-sectoin></mj-sectoin></mj-body></mjml>"}]
    saved = preparer.ok(preparer.post("/deliveries", delivery_fields(
        audience["id"], variants=broken)), 201)
    found = {(f["field"], f["line"], f["column"]) for f in saved["findings"]}
    assert ("variants.ko.subject", 1, 4) in found
    assert ("variants.ko.mjml_body", 2, 1) in found
    assert all("mjml_body" not in f["message"] for f in saved["findings"])
    prepared = preparer.ok(preparer.post(f"/deliveries/{saved['id']}/prepare"))
    assert prepared["status"] == "preparation_failed"
    assert {p["field"] for p in prepared["preparation"]} >= {"variants.ko.subject",
                                                              "variants.ko.mjml_body"}


def test_the_mirror_page_shows_the_recipients_variant(team, relay, send_all):
    from envoi.tracking import tokens
    from envoi.tracking.services import mirror_page

    final = _sent_delivery(team, relay, send_all)
    for address, greeting in [("haruto@example.jp", "こんにちは Haruto"),
                              ("seoyeon@example.com", "안녕하세요 Seoyeon"),
                              ("bob@example.net", "Hello Bob")]:
        row = SendingLog.objects.get(address=address)
        page = mirror_page(tokens.MessageRef(final["id"], row.pk, 0))
        assert greeting in page, address


def test_kpis_per_variant(team, relay, send_all):
    final = _sent_delivery(team, relay, send_all)
    by_address = {m.rcpt_to[0]: parse(m.data) for m in relay.messages}
    [click] = set(re.findall(r'href="(http://testserver/c/[^"]+)"',
                             html_of(by_address["haruto@example.jp"])))
    Client(HTTP_USER_AGENT="Mozilla/5.0").get(click.removeprefix("http://testserver"))
    from envoi.tracking.buffer import flush

    flush()
    answer = team["starter"].ok(team["starter"].get(f"/deliveries/{final['id']}/kpis/variants"))
    variants = answer["variants"]
    assert {name: v["sent"] for name, v in variants.items()} == {"": 3, "ja": 1, "ko": 2}
    assert variants["ja"]["clicks"] == 1 and variants["ja"]["click_rate"] == 1.0
    assert variants["ko"]["clicks"] == 0 and variants[""]["clicks"] == 0
