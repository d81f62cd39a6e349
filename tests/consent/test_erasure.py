"""Must show "Erasure": after a profile is erased, the KPIs of past deliveries are
unchanged, its address and name are in no column of any table, and a re-import of the
address is not sendable until the person consents again. Real SMTP; SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.accounts.services import OPERATOR
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.consent import erasure
from envoi.consent.models import Erasure, Source, Suppression
from envoi.consent.services import Evidence, has_consent, record_consent
from envoi.deliveries import services
from envoi.preparation.models import ExclusionLog
from envoi.reporting.kpis import compute_stats
from envoi.sending.models import SendingLog
from envoi.sending.proofs import send_proof
from tests.consent.support import tables_mentioning
from tests.support.deliveries import boss
from tests.support.scenario import parse

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "Yuna.Erasable@Example.com"
FIRST, LAST = "Yunaerasable", "Parkerasable"
OTHERS = ["kept1@example.com", "kept2@example.com"]
HTML = ('<p>Hello {{ first_name }}</p><a href="https://shop.example.com/x">x</a>'
        '<a href="{{ unsubscribe_url }}">unsubscribe</a>')


def sent_delivery(send_all, label: str, audience: Audience):
    delivery = services.create(boss(), label=label, sender="news@shop.example.com",
                               subject="Hi {{ first_name }}", html_body=HTML,
                               text_body="Hi {{ unsubscribe_url }}", audience=audience,
                               approval_required=False)
    delivery = services.prepare(boss(), delivery)
    services.confirm(boss(), delivery)
    send_all()
    return delivery


def test_erasure_keeps_kpis_leaves_no_trace_and_blocks_reimport(relay, send_all):
    create_profiles([{"email": ADDRESS, "first_name": FIRST, "last_name": LAST,
                      "language": "ko", "attributes": {"city": "Busan"}},
                     *({"email": a} for a in OTHERS)])
    for profile in Profile.objects.all():
        ip = "203.0.113.9" if profile.email == ADDRESS else "192.0.2.1"
        record_consent(profile, "email", Evidence(Source.FORM, ip=ip,
                                                  user_agent="Firefox", wording="Yes"))
    audience = Audience.objects.create(name="All", filter="")
    delivery = sent_delivery(send_all, "Spring", audience)
    send_proof(delivery, addresses=[ADDRESS.lower()])
    assert SendingLog.objects.filter(delivery=delivery, status="sent").count() == 3

    # Engagement: the person opens and clicks, then unsubscribes through the link.
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    message = next(m for m in relay.messages if ADDRESS.lower() in m.rcpt_to[0].lower()
                   and "Proof" not in parse(m.data)["Subject"])
    html = parse(message.data).get_body(("html",)).get_content()
    for link in ("/o/", "/c/"):
        path = html.split(f"http://testserver{link}")[1].split('"')[0]
        client.get(f"{link}{path}")
    unsubscribe = html.split("http://testserver/u/")[1].split('"')[0]
    assert client.post(f"/u/{unsubscribe}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    before = compute_stats(delivery.pk)
    assert before["opens"] == 1 and before["clicks"] == 1 and before["unsubscriptions"] == 1
    profile = Profile.objects.get(email=ADDRESS)
    assert tables_mentioning(ADDRESS) and tables_mentioning(FIRST)

    report = erasure.erase_profile(OPERATOR, profile)

    assert report.suppressed == ["email"] and report.messages == 1
    assert compute_stats(delivery.pk) == before
    for text in (ADDRESS, FIRST, LAST, "Busan", "203.0.113.9"):
        assert tables_mentioning(text) == [], text
    entry = AuditEntry.objects.filter(action="profile.erase").get()
    assert entry.detail == {"profile": profile.pk, "suppressed": ["email"]}
    assert Erasure.objects.filter(profile_id=profile.pk).exists()
    with pytest.raises(erasure.AlreadyErased):
        erasure.erase_profile(OPERATOR, profile)

    # Re-imported, even with a consent flag from the file, the address stays unsendable
    # even where consent is not required, until the person consents again.
    create_profiles([{"email": ADDRESS.upper(), "first_name": FIRST}])
    back = Profile.objects.get(email=ADDRESS.upper())
    record_consent(back, "email", Evidence(Source.IMPORT, wording="file says yes"))
    assert not has_consent(back, "email")
    later = services.create(boss(), label="Later", sender="news@shop.example.com",
                            subject="s", html_body=HTML, text_body="{{ unsubscribe_url }}",
                            audience=audience, approval_required=False,
                            require_consent=False)
    later = services.prepare(boss(), later)
    assert later.to_deliver == 2
    assert later.exclusions == {"no_consent": 1, "address_missing": 1}
    assert ExclusionLog.objects.get(delivery=later, reason="no_consent").profile_id == back.pk

    record_consent(back, "email", Evidence(Source.FORM, wording="I subscribe again"))
    assert has_consent(back, "email") and not Suppression.objects.exists()
    later = services.prepare(boss(), later)
    assert later.to_deliver == 3


def test_export_holds_everything_about_the_person(relay, send_all):
    create_profiles([{"email": ADDRESS, "first_name": FIRST, "attributes": {"vip": True}}],
                    audience=Audience.objects.create(name="Friends", kind=Audience.LIST))
    profile = Profile.objects.get()
    record_consent(profile, "email", Evidence(Source.API, ip="198.51.100.4",
                                              wording="Send me news"))
    sent_delivery(send_all, "Spring", Audience.objects.get(name="Friends"))

    data = json.loads(json.dumps(erasure.export_profile(OPERATOR, profile), default=str))

    assert data["profile"]["email"] == ADDRESS
    assert data["profile"]["attributes"] == {"vip": True}
    assert data["lists"] == ["Friends"]
    assert data["consents"][0]["status"] == "granted"
    assert data["consents"][0]["events"][0]["ip"] == "198.51.100.4"
    assert data["consents"][0]["events"][0]["wording"] == "Send me news"
    assert [m["delivery"] for m in data["messages"]] == ["Spring"]
    assert data["messages"][0]["status"] == "sent"
    assert AuditEntry.objects.filter(action="profile.export").count() == 1


def test_a_message_still_waiting_is_not_sent_after_erasure(relay, send_all):
    create_profiles([{"email": ADDRESS, "first_name": FIRST}, {"email": OTHERS[0]}])
    for profile in Profile.objects.all():
        record_consent(profile, "email", Evidence(Source.API, wording="yes"))
    delivery = services.create(boss(), label="Waiting", sender="news@shop.example.com",
                               subject="s", text_body="{{ unsubscribe_url }}",
                               audience=Audience.objects.create(name="All", filter=""),
                               approval_required=False)
    delivery = services.prepare(boss(), delivery)
    erasure.erase_profile(OPERATOR, Profile.objects.get(email=ADDRESS))
    services.confirm(boss(), delivery)
    send_all()
    assert [list(m.rcpt_to) for m in relay.messages] == [[OTHERS[0]]]
    erased = SendingLog.objects.get(delivery=delivery, address="")
    assert (erased.status, erased.failure_reason) == ("ignored", "erased")
