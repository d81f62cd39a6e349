"""Every place a template renders holds to the same rules: a proof of a failing template
is refused with its line and column (never a 500), the public mirror page answers at
once with a plain page, and preparation warns or refuses what it can see coming."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from envoi import clock
from envoi.accounts.roles import Role
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience, Profile
from envoi.deliveries import services
from envoi.deliveries.liquid import LimitedEnvironment
from envoi.deliveries.models import Delivery
from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from tests.support.api import Api
from tests.support.deliveries import boss

UNSUBSCRIBE = '<a href="{{ unsubscribe_url }}">stop</a>'


def prepared(name: str, html: str, profiles: list[dict]) -> Delivery:
    create_profiles(profiles)
    audience = Audience.objects.create(name=name, filter=f'email contains "{name}"')
    delivery = services.create(boss(), label=name, sender="a@example.com", subject="s",
                               html_body=html + UNSUBSCRIBE, audience=audience,
                               approval_required=False)
    return services.prepare(boss(), delivery)


@pytest.mark.django_db
def test_a_proof_that_cannot_be_rendered_is_refused_with_line_and_column(relay):
    delivery = prepared("proof", "<p>{{ 100 | divided_by: attributes.count }}</p>",
                        [{"email": "proof1@example.com", "attributes": {"count": 4}}])
    Profile.objects.create(email="tester@example.com", is_test=True, attributes={})
    api = Api("prover", *[role.value for role in Role])

    response = api.post(f"/deliveries/{delivery.pk}/proof")

    assert response.status_code == 400, response.content[:500]
    assert response.json()["detail"] == (
        "The proof for tester@example.com cannot be rendered: html_body, "
        "line 1, column 13: divided_by: can't divide by 0")
    delivery.refresh_from_db()
    assert delivery.proof_count == 0 and not relay.messages  # nothing sent, no number used

    Profile.objects.filter(email="tester@example.com").update(attributes={"count": 5})
    sent = api.ok(api.post(f"/deliveries/{delivery.pk}/proof"))
    assert sent["number"] == 1 and b"<p>20</p>" in relay.messages[0].data


def mirror_path(delivery: Delivery, address: str) -> str:
    row = SendingLog.objects.get(delivery=delivery, address=address)
    url = tokens.mirror_url(delivery.pk, row.pk, clock.now())
    return url.removeprefix("http://testserver")


@pytest.mark.django_db
def test_the_mirror_page_of_a_runaway_template_answers_at_once():
    loop = "<p>{% for i in (1..attributes.n) %}{{ i }}{% endfor %}</p>"
    delivery = prepared("mirror", loop, [
        {"email": "mirror-ok@example.com", "attributes": {"n": 3}},
        {"email": "mirror-huge@example.com", "attributes": {"n": 1000000000}}])
    client = Client()

    assert "<p>123</p>" in client.get(mirror_path(delivery, "mirror-ok@example.com")
                                      ).content.decode()
    start = time.monotonic()
    response = client.get(mirror_path(delivery, "mirror-huge@example.com"))
    assert time.monotonic() - start < 1
    assert response.status_code == 200
    assert "This message cannot be shown" in response.content.decode()
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko").get(mirror_path(delivery,
                                                               "mirror-huge@example.com"))
    assert "이 메시지는 표시할 수 없습니다" in korean.content.decode()


@pytest.mark.django_db
def test_the_mirror_page_stops_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(LimitedEnvironment, "loop_iteration_limit", None)
    monkeypatch.setattr(LimitedEnvironment, "render_seconds", 0.3)
    loop = "<p>{% for i in (1..attributes.n) %}{% assign x = i | plus: 1 %}{% endfor %}</p>"
    delivery = prepared("slow", loop, [{"email": "slow@example.com",
                                        "attributes": {"n": 100000000}}])
    start = time.monotonic()
    response = Client().get(mirror_path(delivery, "slow@example.com"))
    assert 0.3 <= time.monotonic() - start < 2
    assert "This message cannot be shown" in response.content.decode()


@pytest.mark.django_db
def test_preparation_warns_of_a_divisor_some_targeted_profiles_lack():
    delivery = prepared("ratio", "<p>{{ attributes.total | divided_by: attributes.count }}</p>",
                        [{"email": "ratio1@example.com", "attributes": {"count": 2}},
                         {"email": "ratio2@example.com", "attributes": {"count": 0}},
                         {"email": "ratio3@example.com", "attributes": {}},
                         {"email": "other@example.com", "attributes": {}}])
    assert delivery.status == "ready"  # a warning: the others can still be sent
    finding = delivery.preparation_messages.get(code="personalization.may_fail")
    assert (finding.level, finding.field, finding.line, finding.column) == (
        "warning", "html_body", 1, 26)
    assert "the 2 targeted profiles without that attribute (or with 0)" in finding.message


@pytest.mark.django_db
def test_preparation_says_nothing_when_every_targeted_profile_has_the_divisor():
    delivery = prepared("full", "<p>{{ 9 | modulo: attributes.count }}</p>",
                        [{"email": "full1@example.com", "attributes": {"count": 2}}])
    assert not delivery.preparation_messages.filter(code="personalization.may_fail").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["sender", "reply_to"])
def test_liquid_in_the_sender_is_refused_at_preparation(field):
    create_profiles([{"email": "s1@example.com"}])
    audience = Audience.objects.create(name="s", filter="")
    fields = {"sender": "a@example.com", "reply_to": ""}
    fields[field] = '"{{ first_name }} at Shop" <shop@example.com>'
    delivery = services.create(boss(), label="s", subject="s", audience=audience,
                               text_body="Hi {{ unsubscribe_url }}", **fields)
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "preparation_failed"
    finding = delivery.preparation_messages.get(code=f"{field}.liquid")
    assert (finding.level, finding.field, finding.line, finding.column) == (
        "error", field, 1, 2)
    assert "'{{ first_name }}' would be sent as written" in finding.message
