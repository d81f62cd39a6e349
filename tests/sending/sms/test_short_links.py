"""Short tracked links in SMS: opt-in per delivery, counted in the parts at
preparation, sent through the SMPP server of the smpp34 library, redirected and counted
as clicks by the public pages, never counted from the console, and refused when
tampered with. Runs on SQLite and on PostgreSQL (the suite's two passes)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envoi.audiences.models import Profile
from envoi.sending.channels.sms import segments
from envoi.sending.channels.sms.links import found_links
from envoi.sending.worker import Worker
from envoi.tracking import short
from envoi.tracking.models import EventKind, TrackingEvent
from envoi.tracking.tokens import BadToken
from envoi.tracking.untracked import untracked_text
from tests.support.api import Api
from tests.support.smsc import SmscHarness

LONG_URL = ("https://shop.example.com/spring-sale/collections/womens-outerwear"
            "?utm_source=sms&utm_medium=text&utm_campaign=spring2026")
TEXT = ("Hi {{ first_name }}, our spring sale has started: " + LONG_URL
        + ". Reply STOP to opt out.")
SHORT = re.compile(r"http://testserver/s/([A-Za-z0-9_-]+)")


# -- the token ------------------------------------------------------------------------

@given(row=st.integers(0, 2**40), link=st.integers(0, 1999))
def test_a_token_names_its_row_and_link_in_gsm_characters(row, link):
    token = short.short_token(row, link)
    assert short.read_short(token) == (row, link)
    assert segments.segment(token).encoding == segments.GSM7
    assert len(token) <= 19  # a row id up to 2^40, a link index up to 1999


def test_a_short_link_is_short():
    assert len(short.short_token(1_000_000, 0)) == 14
    assert short.length("https://e.example") == len("https://e.example/s/") + 15


@given(row=st.integers(0, 2**32), link=st.integers(0, 40), position=st.integers(0, 40),
       letter=st.sampled_from("Aa0_-zZ9"))
def test_an_altered_token_is_refused(row, link, position, letter):
    token = short.short_token(row, link)
    index = position % len(token)
    altered = token[:index] + letter + token[index + 1:]
    if altered == token:
        return
    with pytest.raises(BadToken):
        short.read_short(altered)


def test_urls_are_found_in_the_source_and_sentence_punctuation_left_out():
    found = found_links("See https://a.example/x. Or https://b.example/{{ first_name }}, "
                        "not {{ attributes.link }} nor https://c.example/{{ forloop.index }}!")
    assert [(f.link.index, f.link.url, f.link.personalized) for f in found] == [
        (0, "https://a.example/x", False), (1, "https://b.example/{{ first_name }}", True)]


# -- end to end -------------------------------------------------------------------------

def _sms_delivery(track_links: bool) -> tuple[Api, dict]:
    preparer = Api(f"paula{int(track_links)}", "prepare_deliveries", "import")
    Profile.objects.get_or_create(phone="010-1234-5678", first_name="Minji")
    Profile.objects.get_or_create(phone="+44 7911 123456", first_name="Emma")
    audience = preparer.ok(preparer.post("/audiences", {"name": f"All {track_links}",
                                                        "filter": ""}), 201)
    delivery = preparer.ok(preparer.post("/deliveries", {
        "label": "Spring SMS", "channel": "sms", "sender": "Envoi", "text_body": TEXT,
        "audience_id": audience["id"], "approval_required": False,
        "track_links": track_links}), 201)
    return preparer, delivery


def _send(preparer: Api, delivery: dict, smsc: SmscHarness) -> dict:
    prepared = preparer.ok(preparer.post(f"/deliveries/{delivery['id']}/prepare"))
    starter = Api(f"stella{delivery['id']}", "start_deliveries")
    starter.ok(starter.post(f"/deliveries/{delivery['id']}/confirm"))
    Worker(smtp_url="smtp://127.0.0.1:9", smpp_url=smsc.url).run(until_idle=True)
    return prepared


def _texts(smsc: SmscHarness) -> dict[str, str]:
    return {s.destination: segments.decode(s.payload, s.data_coding) for s in smsc.submitted}


@pytest.mark.django_db
def test_a_tracked_sms_sends_short_links_that_redirect_and_count(smsc, client):
    preparer, delivery = _sms_delivery(track_links=True)
    prepared = _send(preparer, delivery, smsc)
    # The long address alone would make each message two parts; its short link, one.
    assert prepared["track_links"] is True
    assert prepared["parts"] == {"min": 1, "max": 1, "total": 2}
    texts = _texts(smsc)
    assert set(texts) == {"821012345678", "447911123456"}
    assert all(LONG_URL not in text for text in texts.values())
    minji = SHORT.search(texts["821012345678"])
    assert minji is not None and texts["821012345678"].startswith("Hi Minji, our spring")
    assert texts["821012345678"][minji.end():] == ". Reply STOP to opt out."

    response = client.get(f"/s/{minji[1]}")
    assert response.status_code == 302 and response["Location"] == LONG_URL
    click = TrackingEvent.objects.get(kind=EventKind.CLICK)
    assert click.delivery_id == delivery["id"] and click.link_index == 0
    assert click.url == LONG_URL

    # From the console: the same redirect, no click; the outbox shows the destination.
    assert client.get(f"/s/{minji[1]}", {"from": "console"})["Location"] == LONG_URL
    assert TrackingEvent.objects.count() == 1
    assert untracked_text(texts["821012345678"]) == TEXT.replace(
        "{{ first_name }}", "Minji")

    # Tampered: the invalid-link page email's links answer, in the reader's language.
    token = minji[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    refused = client.get(f"/s/{forged}", HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 400 and "Location" not in refused
    assert "이 링크는 만료되었습니다" in refused.content.decode()
    assert TrackingEvent.objects.count() == 1

    kpis = preparer.ok(preparer.get(f"/deliveries/{delivery['id']}/kpis"))["sms"]
    assert kpis["clicks"] == 1 and kpis["click_rate"] == 0.5
    assert "open_rate" not in kpis


@pytest.mark.django_db
def test_without_the_option_the_text_goes_as_written_and_no_click_rate_shows(smsc):
    preparer, delivery = _sms_delivery(track_links=False)
    prepared = _send(preparer, delivery, smsc)
    assert prepared["parts"]["total"] == 4  # the long address: two parts each
    texts = {}
    for submitted in sorted(smsc.submitted, key=lambda s: s.udh[5:6]):  # parts in order
        key = submitted.destination
        texts[key] = texts.get(key, "") + segments.decode(submitted.payload, 0)
    assert all(LONG_URL in text and not SHORT.search(text) for text in texts.values())
    kpis = preparer.ok(preparer.get(f"/deliveries/{delivery['id']}/kpis"))["sms"]
    assert kpis["clicks"] is None and kpis["click_rate"] is None


@pytest.mark.django_db
def test_each_run_of_a_recurring_sms_keeps_its_short_links_and_parts_limit():
    from datetime import UTC, datetime

    from envoi.audiences.models import Audience
    from envoi.deliveries import recurring, services
    from envoi.deliveries.models import Recurrence
    from envoi.tracking.models import TrackedLink
    from tests.support.deliveries import boss

    Profile.objects.create(phone="010-1234-5678", first_name="Minji")
    parent = services.create(boss(), label="Daily SMS", channel="sms", sender="Envoi",
                             text_body=TEXT, track_links=True, max_parts=2,
                             audience=Audience.objects.create(name="All", filter=""),
                             recurrence={"every": "day", "at": "09:00"})
    run_at = datetime(2030, 1, 6, 9, 0, tzinfo=UTC)
    execution = recurring._new_execution(parent, Recurrence.objects.get(delivery=parent),
                                         "2030-01-06", run_at, run_at)
    assert (execution.track_links, execution.max_parts) == (True, 2)
    assert list(TrackedLink.objects.filter(delivery=execution).values_list("url", flat=True)
                ) == [LONG_URL.replace("&", "&amp;")]
    assert execution.parts == {"min": 1, "max": 1, "total": 1}
