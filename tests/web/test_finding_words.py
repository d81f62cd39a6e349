"""Preparation findings are said in the reader's language in the console, while the
API keeps answering with the English sentence."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from envoi.accounts.roles import Role
from envoi.accounts.services import create_user
from envoi.deliveries import services
from envoi.deliveries.models import PreparationMessage
from tests.support.deliveries import boss, seeded_audience

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
# A marketing email with a malformed link, no unsubscribe link, a Liquid error, a
# message past the size mailboxes clip and an audience filter that does not parse.
BROKEN_HTML = '<p>Hi {{ first_name | }}</p><a href="htp:/shop">Shop</a>'


def failed_delivery():
    from envoi.audiences.models import Audience

    seeded_audience()
    audience = Audience.objects.create(name="Broken", filter="country = ")
    delivery = services.create(boss(), label="Broken", sender="news@shop.example.com",
                               subject="Hello", html_body=BROKEN_HTML + "x" * 110_000,
                               text_body="", audience=audience)
    return services.prepare(boss(), delivery)


def test_findings_are_stored_with_their_words_and_english_message():
    delivery = failed_delivery()
    stored = {m.code: m for m in PreparationMessage.objects.filter(delivery=delivery)}
    assert {"url.malformed", "unsubscribe.missing", "personalization", "size.large",
            "audience.filter"} <= stored.keys()
    link = stored["url.malformed"]
    assert link.message == ("Malformed link 'htp:/shop': links must start with http://, "
                            "https://, mailto: or tel:")
    assert link.words["template"] == "Malformed link %(url)s: %(problem)s"
    assert str(link.sentence) == link.message


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_the_preparation_log_says_findings_in_the_readers_language(language):
    delivery = failed_delivery()
    create_user(f"reader-{language}", [r.value for r in Role], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username=f"reader-{language}", password=PASSWORD)
    page = client.get(f"/deliveries/{delivery.pk}/logs/preparation/")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    findings = text[text.index('class="findings"'):]
    findings = findings[:findings.index("</ul>")]
    for message in PreparationMessage.objects.filter(delivery=delivery):
        if message.words and message.code != "personalization":  # Liquid's own text
            assert message.message not in findings, message.message
    # Only text from libraries or the content itself stays English; no internal names.
    assert not re.search(r"\b(html_body|mjml_body|text_body)\b", findings)
    assert "Malformed link" not in findings and "links must start" not in findings


def test_the_api_answers_with_the_english_sentence(settings):
    from envoi.api.schemas import PreparationMessageOut

    delivery = failed_delivery()
    answered = [PreparationMessageOut.model_validate(m, from_attributes=True).message
                for m in PreparationMessage.objects.filter(delivery=delivery)]
    assert ("A marketing email needs an unsubscribe link: add {{ unsubscribe_url }}."
            in answered)
