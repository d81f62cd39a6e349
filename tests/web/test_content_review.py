"""The console's review of content: preview, the approval screen, rejection with a
reason, proofs to typed addresses, test profiles, templates, duplication and the KPIs of
each variant. Pages through Django's test client, over the real services."""

from __future__ import annotations

import re

import pytest

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Audience, Profile
from envoi.content.models import Template
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.tracking.models import TrackingEvent
from tests.content.support import delivery_fields, make_people
from tests.support.deliveries import boss
from tests.support.scenario import parse
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery() -> Delivery:
    make_people()
    audience = Audience.objects.create(name="All", filter="")
    fields = delivery_fields(audience.pk)
    fields["audience"] = Audience.objects.get(pk=fields.pop("audience_id"))
    return services.create(boss(), **fields)


def pending(delivery: Delivery) -> Delivery:
    return services.prepare(boss(), delivery)


def test_preview_as_a_korean_profile_at_mobile_width_records_nothing(delivery):
    client = signed_in("paula", "prepare_deliveries")
    minji = Profile.objects.get(email="minji@example.com")
    page = client.get(f"/deliveries/{delivery.pk}/preview/",
                      {"profile": minji.pk, "width": "mobile"})
    body = page.content.decode()
    assert page.status_code == 200
    assert 'class="frame mobile"' in body
    assert "Minji님, 봄 세일" in body and "봄 한정" in body  # subject and preheader
    assert "https://shop.example.com/ko/spring?who=minji@example.com" in body
    assert "Clicks are tracked" in body and "Not tracked" in body
    frame = client.get(f"/deliveries/{delivery.pk}/preview/body/",
                       {"profile": minji.pk, "language": "ko"})
    assert "안녕하세요 Minji" in frame.content.decode()
    assert "sandbox" in frame["Content-Security-Policy"]
    assert TrackingEvent.objects.count() == 0


def test_preview_finds_a_profile_and_switches_variant(delivery):
    client = signed_in("paula", "prepare_deliveries", language="ko")
    found = client.get(f"/deliveries/{delivery.pk}/preview/", {"q": "haruto"})
    haruto = Profile.objects.get(email="haruto@example.jp")
    assert f"?profile={haruto.pk}&amp;width=desktop" in found.content.decode()
    shown = client.get(f"/deliveries/{delivery.pk}/preview/",
                       {"profile": haruto.pk, "language": "ko"}).content.decode()
    assert "Haruto님, 봄 세일" in shown  # the Korean variant, rendered as Haruto
    unknown = client.get(f"/deliveries/{delivery.pk}/preview/", {"profile": 999999})
    assert unknown.status_code == 200
    assert "profile 999999 does not exist" in unknown.content.decode()


def test_the_approver_sees_every_variant_and_the_count_then_approves_that(delivery):
    delivery = pending(delivery)
    approver = signed_in("ana", "approve_deliveries")
    body = approver.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert body.count('data-testid="approval-variant"') == 3
    assert "Minji님, 봄 세일" in body and "Haruto様、春のセール" in body
    assert 'data-testid="approval-count">6<' in body
    seen = re.search(r'name="content_hash" value="([0-9a-f]{64})"', body).group(1)
    assert seen == delivery.prepared_hash
    # The preparation changes (prepared again with other content) after the screen
    # was opened: the approval of what was seen is refused.
    services.update(boss(), delivery, subject="Another subject {{ first_name }}")
    delivery = pending(Delivery.objects.get(pk=delivery.pk))
    refused = approver.post(f"/deliveries/{delivery.pk}/do/approve/",
                            {"content_hash": seen}, follow=True)
    assert "prepared again while you reviewed it" in refused.content.decode()
    assert Delivery.objects.get(pk=delivery.pk).status == "pending_approval"
    approver.post(f"/deliveries/{delivery.pk}/do/approve/",
                  {"content_hash": delivery.prepared_hash})
    approved = Delivery.objects.get(pk=delivery.pk)
    assert approved.status == "approved"
    assert approved.approval["content_hash"] == approved.prepared_hash
    assert set(approved.approval["variants"]) == {"", "ko", "ja"}


def test_reject_needs_a_reason_which_the_preparer_reads(delivery):
    delivery = pending(delivery)
    approver = signed_in("ana", "approve_deliveries", language="ja")
    blank = approver.post(f"/deliveries/{delivery.pk}/do/reject/", {"reason": "  "},
                          follow=True)
    assert Delivery.objects.get(pk=delivery.pk).status == "pending_approval"
    assert "配信を差し戻す理由を書いてください" in blank.content.decode()
    approver.post(f"/deliveries/{delivery.pk}/do/reject/",
                  {"reason": "件名の誤字を直してください。"})
    rejected = Delivery.objects.get(pk=delivery.pk)
    assert rejected.status == "editing"
    assert rejected.rejection["reason"] == "件名の誤字を直してください。"
    assert AuditEntry.objects.filter(action="delivery.reject", allowed=True).count() == 1
    preparer = signed_in("paula", "prepare_deliveries")
    shown = preparer.get(f"/deliveries/{delivery.pk}/").content.decode()
    assert 'data-testid="rejection"' in shown and "件名の誤字を直してください。" in shown
    assert "Rejected by ana" in shown
    # Approved later: the reason has been dealt with and is no longer shown.
    delivery = pending(rejected)
    services.approve(boss(), delivery)
    assert 'data-testid="rejection"' not in preparer.get(
        f"/deliveries/{delivery.pk}/").content.decode()


def test_a_proof_to_a_typed_address_in_a_variant_as_a_profile(delivery, relay):
    delivery = pending(delivery)
    client = signed_in("paula", "prepare_deliveries")
    haruto = Profile.objects.get(email="haruto@example.jp")
    form = client.get(f"/deliveries/{delivery.pk}/proof/").content.decode()
    assert "Each recipient&#x27;s own variant" in form or "own variant" in form
    done = client.post(f"/deliveries/{delivery.pk}/proof/",
                       {"addresses": "reviewer@example.com", "language": "ja",
                        "profile": str(haruto.pk)}, follow=True)
    assert "Proof 1 was sent to reviewer@example.com." in done.content.decode()
    (message,) = relay.messages
    assert message.rcpt_to == ("reviewer@example.com",)
    assert parse(message.data)["Subject"] == "[Proof 1] Haruto様、春のセール"
    tess = Profile.objects.create(email="tess@example.com", first_name="Tess", is_test=True)
    Profile.objects.create(email="tom@example.com", first_name="Tom", is_test=True)
    client.post(f"/deliveries/{delivery.pk}/proof/",
                {"test_profile": [str(tess.pk)], "addresses": "", "language": "ko"})
    assert relay.messages[-1].rcpt_to == ("tess@example.com",)  # Tom was not chosen
    assert parse(relay.messages[-1].data)["Subject"] == "[Proof 2] Tess님, 봄 세일"
    bad = client.post(f"/deliveries/{delivery.pk}/proof/",
                      {"addresses": "not an address", "language": "", "profile": ""})
    assert bad.status_code == 200 and 'data-testid="proof-error"' in bad.content.decode()
    assert "not an address" in bad.content.decode()  # what was typed is kept


def test_marking_and_unmarking_a_test_profile(delivery):
    ada = Profile.objects.get(email="ada@example.org")
    client = signed_in("paula", "prepare_deliveries")
    client.post(f"/profiles/{ada.pk}/test/", {"is_test": "1"})
    assert Profile.objects.get(pk=ada.pk).is_test
    client.post(f"/profiles/{ada.pk}/test/", {"is_test": "0"})
    assert not Profile.objects.get(pk=ada.pk).is_test
    assert AuditEntry.objects.filter(action="profile.mark_test", allowed=True).count() == 2
    viewer = signed_in("vera", "export")
    assert viewer.post(f"/profiles/{ada.pk}/test/", {"is_test": "1"}).status_code == 403


def test_marking_a_test_profile_from_the_profiles_list(delivery):
    ada = Profile.objects.get(email="ada@example.org")
    client = signed_in("paula", "prepare_deliveries")
    listed = client.get("/profiles/", {"q": "ada"}).content.decode()
    assert f'action="/profiles/{ada.pk}/test/"' in listed
    assert 'name="next" value="/profiles/?q=ada"' in listed
    back = client.post(f"/profiles/{ada.pk}/test/", {"is_test": "1", "next": "/profiles/?q=ada"})
    assert back["Location"] == "/profiles/?q=ada"  # back to the list it came from
    assert Profile.objects.get(pk=ada.pk).is_test
    assert "Unmark as test profile" in client.get("/profiles/", {"q": "ada"}).content.decode()
    reader = signed_in("ana", "approve_deliveries")  # may see profiles, not mark them
    seen = reader.get("/profiles/")
    assert seen.status_code == 200 and "ada@example.org" in seen.content.decode()
    assert f"/profiles/{ada.pk}/test/" not in seen.content.decode()


def test_templates_save_search_reuse_and_duplicate(delivery):
    client = signed_in("paula", "prepare_deliveries")
    client.post(f"/deliveries/{delivery.pk}/save-as-template/", {"name": "Spring sale"})
    template = Template.objects.get(name="Spring sale")
    assert [variant["language"] for variant in template.variants] == ["ko", "ja"]
    listed = client.get("/templates/", {"q": "spring"}).content.decode()
    assert "Spring sale" in listed
    assert "No template matches." in client.get("/templates/", {"q": "zzz"}).content.decode()
    made = client.post(f"/templates/{template.pk}/new-delivery/")
    created = Delivery.objects.exclude(pk=delivery.pk).get()
    assert made["Location"] == f"/deliveries/{created.pk}/edit/"
    assert created.mjml_body == delivery.mjml_body and created.audience_id is None
    copied = client.post(f"/deliveries/{delivery.pk}/duplicate/")
    copy = Delivery.objects.order_by("-pk").first()
    assert copied["Location"] == f"/deliveries/{copy.pk}/"
    assert copy.label == "Spring (copy)" and copy.audience_id == delivery.audience_id
    assert copy.variants.count() == 2 and copy.status == "editing"


def test_templates_are_edited_and_deleted_from_the_console(delivery):
    client = signed_in("paula", "prepare_deliveries", language="ko")
    client.post(f"/deliveries/{delivery.pk}/save-as-template/", {"name": "Spring sale"})
    template = Template.objects.get()
    assert f"/templates/{template.pk}/edit/" in client.get("/templates/").content.decode()
    form = {"name": "", "description": "For April", "subject": "Spring", "preheader": ""}
    refused = client.post(f"/templates/{template.pk}/edit/", form).content.decode()
    assert "템플릿에는 이름이 필요합니다." in refused and "For April" in refused  # kept
    assert Template.objects.get().name == "Spring sale"
    saved = client.post(f"/templates/{template.pk}/edit/", {**form, "name": "April sale"})
    assert saved["Location"] == "/templates/"
    template.refresh_from_db()
    assert (template.name, template.description, template.subject) == (
        "April sale", "For April", "Spring")
    assert template.mjml_body == delivery.mjml_body  # the content is untouched
    viewer = signed_in("vera", "export")
    assert viewer.get(f"/templates/{template.pk}/edit/").status_code == 403
    assert viewer.post(f"/templates/{template.pk}/delete/").status_code == 403
    assert client.post(f"/templates/{template.pk}/delete/")["Location"] == "/templates/"
    assert not Template.objects.exists()
    assert AuditEntry.objects.filter(action="template.delete", allowed=True).count() == 1


def test_variant_kpis_on_the_dashboard(delivery, relay):
    delivery = pending(delivery)
    services.approve(boss(), delivery)
    services.confirm(boss(), delivery)
    client = signed_in("ana", "approve_deliveries")
    body = client.get(f"/deliveries/{delivery.pk}/").content.decode()
    table = body[body.index('data-testid="variant-kpis"'):]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"number\">(\d+)</td>", table)
    assert dict(rows) == {"Default": "3", "ja": "1", "ko": "2"}
