"""``envoi delivery create`` and ``envoi delivery show``: the CLI face of creating a
draft (email or SMS) through the same service and permission as the API, run
in-process against the test database; ``envoi delivery ACTION ID`` keeps working."""

from __future__ import annotations

import pytest

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Audience, Profile
from envoi.cli import main
from envoi.content.authoring import variant_dicts
from envoi.deliveries.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def preparer():
    assert main(["user", "create", "paula", "--role", "prepare_deliveries"]) == 0
    return "paula"


def _created(capsys) -> Delivery:
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("delivery "))
    return Delivery.objects.get(pk=int(line.split()[1].rstrip(":")))


def test_an_sms_draft_is_created_shown_and_prepared_from_the_cli(preparer, capsys, tmp_path):
    Profile.objects.create(phone="010-1234-5678", first_name="Minji", language="ko")
    Profile.objects.create(phone="+44 7911 123456", first_name="Emma", language="en")
    audience = Audience.objects.create(name="All", filter="")
    korean = tmp_path / "ko.txt"
    korean.write_text("{{ first_name }}님, 봄 세일! https://shop.example.com/ko 수신거부 STOP",
                      encoding="utf-8")
    capsys.readouterr()
    assert main(["delivery", "create", "--as", preparer, "--channel", "sms",
                 "--label", "Spring SMS", "--sender", "Envoi", "--audience", str(audience.pk),
                 "--text-body", "Hi {{ first_name }}: https://shop.example.com/en Reply STOP",
                 "--variant", f"ko={korean}", "--track-links", "--max-parts", "3"]) == 0
    delivery = _created(capsys)
    assert (delivery.channel, delivery.status, delivery.sender, delivery.audience_id,
            delivery.track_links, delivery.max_parts) == (
        "sms", "editing", "Envoi", audience.pk, True, 3)
    assert [v["language"] for v in variant_dicts(delivery)] == ["ko"]
    assert AuditEntry.objects.filter(action="delivery.create", delivery_id=delivery.pk,
                                     allowed=True).exists()

    assert main(["delivery", "prepare", str(delivery.pk), "--as", preparer]) == 0
    assert "pending_approval" in capsys.readouterr().out
    assert main(["delivery", "show", str(delivery.pk), "--as", preparer]) == 0
    shown = capsys.readouterr().out
    assert "channel:      sms" in shown and "track links:  yes" in shown
    assert "languages:    default, ko" in shown
    assert "parts:        2 in all, 1 to 1 a message; default: 1; ko: 1" in shown


def test_an_email_draft_reads_its_html_from_a_file(preparer, capsys, tmp_path):
    page = tmp_path / "spring.html"
    page.write_text("<p>Spring {{ first_name }}</p>", encoding="utf-8")
    assert main(["delivery", "create", "--as", preparer, "--label", "Spring",
                 "--sender", "Shop <news@shop.example.com>", "--subject", "Spring",
                 "--html-file", str(page)]) == 0
    delivery = _created(capsys)
    assert (delivery.channel, delivery.html_body, delivery.subject) == (
        "email", "<p>Spring {{ first_name }}</p>", "Spring")
    assert main(["delivery", "show", str(delivery.pk), "--as", preparer]) == 0
    assert "channel:      email" in capsys.readouterr().out


def test_creating_needs_the_same_permission_as_the_api(capsys):
    assert main(["user", "create", "vera", "--role", "approve_deliveries"]) == 0
    capsys.readouterr()
    # Refused before the audience is looked up: an id that does not exist says nothing.
    assert main(["delivery", "create", "--as", "vera", "--channel", "sms", "--label", "x",
                 "--sender", "Envoi", "--audience", "999999"]) == 1
    assert "Your permissions do not allow you to create deliveries." in capsys.readouterr().err
    assert not Delivery.objects.exists()
    assert AuditEntry.objects.filter(action="delivery.create", allowed=False).exists()


def test_the_core_refusals_name_the_field(preparer, capsys):
    assert main(["delivery", "create", "--as", preparer, "--channel", "sms", "--label", "x",
                 "--sender", "An invalid sender name"]) == 1
    assert "sender:" in capsys.readouterr().err
    assert main(["delivery", "create", "--as", preparer, "--label", "x",
                 "--sender", "Envoi", "--audience", "999999"]) == 1
    assert "audience 999999 not found" in capsys.readouterr().err
    assert main(["delivery", "show", "--as", preparer]) == 2
    assert not Delivery.objects.exists()
