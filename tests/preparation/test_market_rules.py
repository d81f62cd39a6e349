"""Market rule sets (typology) as preparation findings, through the real services."""

from __future__ import annotations

import pytest

from envoi.audiences.models import Profile
from envoi.consent.services import Evidence, record_consent
from envoi.deliveries import services
from envoi.deliveries.services import DeliveryError
from envoi.preparation.rules import default_typology, suggested_typology
from tests.support.deliveries import boss, seeded_audience

pytestmark = pytest.mark.django_db

KR_HTML = ("<p>봄 세일</p><p>Envoi Shop, 02-1234-5678</p>"
           '<p>수신거부: <a href="{{ unsubscribe_url }}">여기</a></p>')
JP_HTML = ("<p>春のセール</p><p>Envoi Shop 〒100-0001 東京都千代田区1-1 "
           "お問い合わせ: 02-1234-5678</p>"
           '<p>配信停止は<a href="{{ unsubscribe_url }}">こちら</a></p>')


@pytest.fixture(autouse=True)
def brand(settings):
    settings.ENVOI_BRAND_NAME = "Envoi Shop"
    settings.ENVOI_BRAND_ADDRESS = "〒100-0001 東京都千代田区1-1"
    settings.ENVOI_BRAND_CONTACT = "02-1234-5678"
    settings.ENVOI_KR_OPT_OUT_NUMBER = "080-123-4567"


def prepared(**fields):
    if "audience" not in fields:
        fields["audience"] = seeded_audience()
    payload = {"label": "Ad", "sender": "Envoi Shop <news@shop.example.com>",
               "subject": "봄 세일", "html_body": KR_HTML, "text_body": "",
               **fields}
    delivery = services.create(boss(), **payload)
    return services.prepare(boss(), delivery)


def codes(delivery, level="error"):
    return {m.code for m in delivery.preparation_messages.filter(level=level)}


def test_korean_advertising_without_the_prefix_is_red_and_with_it_passes():
    delivery = prepared(typology=["kr_advertising"])
    assert delivery.status == "preparation_failed"
    finding = delivery.preparation_messages.get(code="kr_advertising.prefix")
    assert finding.field == "subject" and "(광고)" in finding.message
    fixed = prepared(typology=["kr_advertising"], subject="(광고) 봄 세일")
    assert not {c for c in codes(fixed) if c.startswith("kr_")}
    assert fixed.status == "pending_approval"


def test_korean_advertising_needs_sender_details_and_a_korean_opt_out():
    delivery = prepared(typology=["kr_advertising"], subject="(광고) 봄 세일",
                        html_body='<p>Sale</p><a href="{{ unsubscribe_url }}">x</a>')
    assert {"kr_advertising.sender", "kr_advertising.opt_out"} <= codes(delivery)


def test_korean_prefix_must_be_exact():
    delivery = prepared(typology=["kr_advertising"], subject=" (광고) 봄 세일")
    assert "kr_advertising.prefix" in codes(delivery)


def test_korean_advertising_sms_needs_the_free_080_number():
    delivery = prepared(typology=["kr_advertising"], channel="sms", sender="15881234",
                        subject="", html_body="", text_body="(광고) Envoi Shop 세일 "
                        "02-1234-5678")
    assert "kr_advertising.opt_out" in codes(delivery)
    assert "kr_advertising.prefix" not in codes(delivery)
    fixed = prepared(typology=["kr_advertising"], channel="sms", sender="15881234",
                     subject="", html_body="", text_body="(광고) Envoi Shop 세일 "
                     "02-1234-5678 무료수신거부 080-123-4567")
    assert not {c for c in codes(fixed) if c.startswith("kr_")}


def test_japanese_advertising_without_the_address_is_red(settings):
    html = JP_HTML.replace("〒100-0001 東京都千代田区1-1 ", "")
    seeded_audience()
    for profile in Profile.objects.all():  # consent is not what is judged here
        record_consent(profile, "email", Evidence(source="import"))
    delivery = prepared(typology=["jp_advertising"], subject="春のセール", html_body=html)
    finding = delivery.preparation_messages.get(code="jp_advertising.footer")
    assert "ENVOI_BRAND_ADDRESS" in finding.message
    fixed = prepared(typology=["jp_advertising"], subject="春のセール", html_body=JP_HTML)
    assert not {c for c in codes(fixed) if c.startswith("jp_")}


def test_japanese_advertising_counts_profiles_without_consent_record():
    audience = seeded_audience()
    profiles = list(Profile.objects.order_by("pk"))
    record_consent(profiles[0], "email", Evidence(source="import"))
    delivery = prepared(typology=["jp_advertising"], subject="春のセール",
                        html_body=JP_HTML, audience=audience)
    finding = delivery.preparation_messages.get(code="jp_advertising.consent")
    assert finding.level == "error"
    assert f"{len(profiles) - 1} of {len(profiles)} targeted" in finding.message


def test_bulk_sender_refuses_mailbox_providers_and_unknown_domains():
    delivery = prepared(typology=["bulk_sender"], sender="Shop <shop@gmail.com>")
    assert "bulk_sender.free_mail" in codes(delivery)
    delivery = prepared(typology=["bulk_sender"], sender="Shop <a@unknown.example>")
    assert "bulk_sender.unknown_domain" in codes(delivery)


def test_without_typology_no_market_rule_applies():
    delivery = prepared(sender="Shop <shop@gmail.com>")
    assert not {c for c in codes(delivery) if "_" in c.split(".")[0]
                and c.split(".")[0] in ("kr_advertising", "jp_advertising", "bulk_sender")}


def test_typology_is_validated_and_defaults_from_the_setting(settings):
    with pytest.raises(DeliveryError, match="typology: us_spam is not a rule set"):
        services.create(boss(), label="x", sender="a@example.com", subject="s",
                        typology=["us_spam"])
    assert default_typology() == []
    settings.ENVOI_DEFAULT_TYPOLOGY = "bulk_sender, kr_advertising"
    assert default_typology() == ["kr_advertising", "bulk_sender"]
    delivery = services.create(boss(), label="x", sender="a@example.com", subject="s")
    assert delivery.typology == ["kr_advertising", "bulk_sender"]


def test_languages_suggest_rule_sets():
    assert suggested_typology(["ko", "en", "ja-JP"]) == ["kr_advertising", "jp_advertising"]
    assert suggested_typology(["fr"]) == []


def test_api_accepts_and_returns_typology():
    from envoi.accounts.roles import Role
    from tests.support.api import Api

    api = Api("editor", *[r.value for r in Role])
    created = api.ok(api.post("/deliveries", {
        "label": "Ad", "sender": "news@shop.example.com", "subject": "s",
        "typology": ["bulk_sender", "kr_advertising"]}), 201)
    assert created["typology"] == ["kr_advertising", "bulk_sender"]
    patched = api.ok(api.patch(f"/deliveries/{created['id']}",
                               {"typology": ["jp_advertising"]}))
    assert patched["typology"] == ["jp_advertising"]
    refused = api.patch(f"/deliveries/{created['id']}", {"typology": ["nope"]})
    assert refused.status_code == 400 and "typology" in refused.content.decode()


def test_korean_advertising_prepared_at_22_seoul_waits_until_08(clock):
    from datetime import UTC, datetime

    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from envoi.sending.models import SendingLog

    create_profiles([{"email": "minji@example.kr", "timezone": "Asia/Seoul"},
                     {"email": "taro@example.jp", "timezone": "Asia/Tokyo"},
                     {"email": "ana@example.pt", "timezone": "Europe/Lisbon"}])
    audience = Audience.objects.create(name="Mixed", filter="")
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))  # 22:00 in Seoul and Tokyo
    delivery = prepared(typology=["kr_advertising"], subject="(광고) 봄 세일",
                        audience=audience, time_zone="Asia/Seoul")
    assert delivery.status == "pending_approval", list(
        delivery.preparation_messages.values_list("message", flat=True))
    due = dict(SendingLog.objects.filter(delivery=delivery)
               .values_list("address", "next_attempt_at"))
    morning = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 on the 3rd in Seoul/Tokyo
    assert due["minji@example.kr"] == morning
    assert due["taro@example.jp"] == morning
    assert due["ana@example.pt"] == clock.now()  # 13:00 in Lisbon: not held
    assert delivery.start_at == clock.now()


def test_without_the_rule_set_rows_are_not_held(clock):
    from datetime import UTC, datetime

    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from envoi.sending.models import SendingLog

    create_profiles([{"email": "minji@example.kr", "timezone": "Asia/Seoul"}])
    audience = Audience.objects.create(name="Seoul", filter="")
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    delivery = prepared(subject="봄 세일", audience=audience)
    row = SendingLog.objects.get(delivery=delivery, address="minji@example.kr")
    assert row.next_attempt_at is None


def test_findings_speak_the_language_of_who_prepares():
    from django.utils import translation

    with translation.override("ja"):
        delivery = prepared(typology=["kr_advertising"])
    finding = delivery.preparation_messages.get(code="kr_advertising.prefix")
    assert finding.message == "韓国の広告: 件名は正確に「(광고)」で始める必要があります。"


def test_the_console_form_saves_the_rule_sets():
    from envoi.deliveries.models import Delivery
    from tests.web.conftest import signed_in
    from tests.web.test_console import delivery_form

    client = signed_in("maker", "prepare_deliveries")
    form = delivery_form()
    form["typology"] = ["kr_advertising", "bulk_sender"]
    client.post("/deliveries/new/", form)
    assert Delivery.objects.get(label="Form").typology == ["kr_advertising", "bulk_sender"]
    page = client.get("/deliveries/new/").content.decode()
    assert 'value="jp_advertising"' in page and "Market rules" in page


def test_console_fixes_turn_red_findings_green(settings):
    from envoi.deliveries.models import Delivery
    from tests.web.conftest import signed_in

    client = signed_in("fixer", "prepare_deliveries")
    delivery = prepared(typology=["kr_advertising", "jp_advertising"], subject="セール",
                        html_body='<p>Sale</p>', text_body="Sale")
    assert {"kr_advertising.prefix", "jp_advertising.footer"} <= codes(delivery)
    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'value="prefix"' in page and 'value="footer"' in page
    for fix in ("prefix", "footer"):
        response = client.post(f"/deliveries/{delivery.pk}/market-fix/", {"fix": fix})
        assert response.status_code == 302
    delivery = Delivery.objects.get(pk=delivery.pk)
    assert delivery.subject == "(광고) セール"
    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'data-testid="market-fixes"' not in page
    for profile in Profile.objects.all():
        record_consent(profile, "email", Evidence(source="import"))
    delivery = services.prepare(boss(), delivery)
    assert not {c for c in codes(delivery) if c.split(".")[0] in (
        "kr_advertising", "jp_advertising")}, list(
        delivery.preparation_messages.values_list("message", flat=True))
    refused = client.post(f"/deliveries/{delivery.pk}/market-fix/", {"fix": "nope"})
    assert refused.status_code == 302


def test_the_cli_names_the_rule_sets(capsys):
    from envoi.cli import main
    from envoi.deliveries.models import Delivery

    delivery = services.create(boss(), label="x", sender="a@example.com", subject="s")
    assert main(["delivery", "typology", str(delivery.pk), "--as", "boss",
                 "--typology", "bulk_sender,kr_advertising"]) == 0
    assert "typology kr_advertising, bulk_sender" in capsys.readouterr().out
    assert Delivery.objects.get(pk=delivery.pk).typology == ["kr_advertising", "bulk_sender"]
    assert main(["delivery", "typology", str(delivery.pk), "--as", "boss",
                 "--typology", "us_spam"]) == 1
    assert "typology: us_spam is not a rule set" in capsys.readouterr().err


def test_the_console_suggests_rule_sets_from_the_audience_languages():
    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from tests.web.conftest import signed_in

    create_profiles([{"email": "minji@example.kr", "language": "ko"}])
    audience = Audience.objects.create(name="Korean", filter="")
    delivery = services.create(boss(), label="x", sender="a@example.com", subject="s",
                               audience=audience)
    client = signed_in("suggested", "prepare_deliveries")
    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'data-testid="suggested-typology"' in page and "<code>kr_advertising" in page
    services.update(boss(), delivery, typology=["kr_advertising"])
    page = client.get(f"/deliveries/{delivery.pk}/edit/").content.decode()
    assert 'data-testid="suggested-typology"' not in page


def test_a_duplicate_keeps_the_rule_sets():
    from envoi.content.templates import duplicate

    source = services.create(boss(), label="x", sender="a@example.com", subject="s",
                             typology=["jp_advertising"])
    assert duplicate(boss(), source).typology == ["jp_advertising"]
