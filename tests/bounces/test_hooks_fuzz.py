"""Fuzzing the webhook endpoints (hypothesis): whatever is posted, the answer is never
a 500; an unverified call is refused and leaves nothing behind (no inbound message, no
sending-log change, no quarantine); a verified call whose payload is nonsense is kept
at most as an unmatched or unreadable event, never a crash."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envoi.bounces.models import InboundMessage, Quarantine
from envoi.sending.models import SendingLog
from tests.bounces.hookcalls import (
    MAILGUN_KEY,
    POSTMARK_CREDENTIALS,
    SNS_TOPIC,
    Hooks,
    Keys,
    mailgun_failed,
    postmark_bounce,
    sendgrid_bounce,
    ses_bounce,
    sns_certificate,
    sns_notification,
)

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
REFUSED = {400, 401, 403, 404, 405, 413}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["event", "email", "recipient", "smtp-id", "sg_message_id", "type",
                         "status", "reason", "severity", "delivery-status", "code",
                         "message", "headers", "message-id", "RecordType", "Type",
                         "Email", "MessageID", "Details", "Content", "signature",
                         "event-data", "timestamp", "token", "Recipient", "envelope",
                         "sender", "notificationType", "bounce", "mail"]) | st.text(max_size=8),
        inner, max_size=6),
    max_leaves=25)

# Documented payloads, mutated: fields replaced by arbitrary values.
documented = st.sampled_from([
    sendgrid_bounce("ada@example.org", smtp_id="<1.2.envoi@bounces.shop.example.com>"),
    mailgun_failed("ada@example.org", message_id="<1.2.envoi@bounces.shop.example.com>"),
    postmark_bounce("ada@example.org"),
    {"event": "spamreport", "email": "ada@example.org"},
    {"RecordType": "Delivery", "Recipient": "ada@example.org", "MessageID": "x"},
])


@st.composite
def mutated(draw) -> object:
    document = dict(draw(documented))
    for key in draw(st.lists(st.sampled_from(sorted(document)), max_size=3)):
        document[key] = draw(json_values)
    return document


bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   mutated().map(lambda v: json.dumps(v).encode()))
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def hooks(settings, keys, monkeypatch) -> Hooks:
    from envoi.bounces import views

    pem = sns_certificate(keys.sns, dt.datetime.now(dt.UTC))
    monkeypatch.setattr(views, "sns_certificates", lambda url: pem)
    monkeypatch.setattr(views, "confirm_subscription", lambda url: None)
    settings.ENVOI_SNS_TOPICS = SNS_TOPIC
    settings.ENVOI_SENDGRID_PUBLIC_KEY = keys.sendgrid_public
    settings.ENVOI_MAILGUN_SIGNING_KEY = MAILGUN_KEY
    settings.ENVOI_POSTMARK_CREDENTIALS = POSTMARK_CREDENTIALS
    return Hooks(keys, dt.datetime.now(dt.UTC))


@pytest.fixture
def sent(relay, send_all, bounce_domain):
    from tests.support.deliveries import delivery_in

    delivery_in("in_progress")
    send_all()
    return snapshot()


def snapshot() -> list[tuple]:
    return list(SendingLog.objects.order_by("id").values_list("id", "status", "failure_type"))


def untouched(before: list[tuple]) -> None:
    assert not InboundMessage.objects.exists()
    assert snapshot() == before
    assert not Quarantine.objects.filter(address__in=["ada@example.org",
                                                      "bob@example.net"]).exists()


@FUZZ
@given(provider=st.sampled_from(["ses", "sendgrid", "mailgun", "postmark"]), body=bodies,
       signature=header_values, timestamp=header_values, authorization=header_values)
def test_unverified_calls_are_refused_and_change_nothing(hooks, sent, provider, body,
                                                         signature, timestamp,
                                                         authorization):
    response = hooks.post(provider, body, headers={
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Authorization": authorization})
    assert response.status_code in REFUSED, response.content
    assert response["Content-Type"] == "application/json"
    untouched(sent)


signature_fields = st.fixed_dictionaries({}, optional={
    "timestamp": json_values | st.integers(0, 2**40).map(str), "token": json_values,
    "signature": json_values | st.text(alphabet="0123456789abcdefé", min_size=64,
                                       max_size=64)})


@FUZZ
@given(document=st.one_of(mutated(), json_values), signature=signature_fields)
@example(document={}, signature={"timestamp": "1767603570", "token": "t",
                                 "signature": "é" * 64})
def test_a_mailgun_body_with_arbitrary_signature_fields_is_refused(hooks, sent, document,
                                                                  signature):
    if isinstance(document, dict):
        document = {**document, "signature": signature}
    response = hooks.post("mailgun", json.dumps(document).encode())
    assert response.status_code in REFUSED
    untouched(sent)


@FUZZ
@given(document=st.one_of(mutated(), json_values))
def test_an_sns_body_changed_after_signing_is_refused(hooks, sent, document):
    body = json.loads(hooks.sns_body(sns_notification(ses_bounce("ada@example.org"))))
    body["Message"] = json.dumps(document)
    response = hooks.post("ses", json.dumps(body).encode())
    assert response.status_code == 403
    untouched(sent)


@FUZZ
@given(provider=st.sampled_from(["sendgrid", "mailgun", "postmark", "ses"]),
       document=st.one_of(mutated(), json_values, st.lists(mutated(), max_size=3)))
def test_verified_nonsense_never_gives_a_500(hooks, sent, provider, document):
    if provider == "sendgrid":
        response = hooks.sendgrid([], body=json.dumps(document).encode())
    elif provider == "mailgun":
        response = hooks.mailgun(document)  # type: ignore[arg-type]
    elif provider == "postmark":
        auth = base64.b64encode(POSTMARK_CREDENTIALS.encode()).decode()
        response = hooks.post("postmark", json.dumps(document).encode(),
                              headers={"Authorization": f"Basic {auth}"})
    else:
        response = hooks.sns(sns_notification(document))  # type: ignore[arg-type]
    assert response.status_code in {200, 400}, response.content
    for inbound in InboundMessage.objects.all():
        assert inbound.outcome in {"matched", "unmatched", "unparseable"}
