"""The pages a message leads to (unsubscribe, its confirmation, the mirror's error page)
speak the language of the variant the message was sent in, whatever the browser asks;
a message in the default variant (or a language Envoi has no text for) follows the
browser."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.sending.models import SendingLog
from envoi.tracking import tokens
from tests.content.support import delivery_fields, make_people
from tests.support.deliveries import boss

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows():
    make_people()
    fields = delivery_fields(Audience.objects.create(name="All", filter="").pk)
    fields["audience"] = Audience.objects.get(pk=fields.pop("audience_id"))
    services.prepare(boss(), services.create(boss(), **fields))
    return {row.address: row for row in SendingLog.objects.all()}


def unsubscribe_path(row: SendingLog) -> str:
    return tokens.unsubscribe_url(row.pk).removeprefix("http://testserver")


@pytest.mark.parametrize("address,browser,expected", [
    ("minji@example.com", "en", "minji@example.com(으)로 마케팅 이메일 발송을 중단할까요?"),
    ("seoyeon@example.com", "ja", "seoyeon@example.com(으)로 마케팅 이메일 발송을 중단할까요?"),
    ("haruto@example.jp", "ko", "haruto@example.jp へのマーケティングメールの配信を停止しますか?"),
    ("pierre@example.fr", "ja", "pierre@example.fr へのマーケティングメールの配信を停止しますか?"),
    # The default variant: the profile's own language (en), before the browser's.
    ("ada@example.org", "ko", "Stop sending marketing email to ada@example.org?"),
    ("bob@example.net", "en", "Stop sending marketing email to bob@example.net?"),
])
def test_the_unsubscribe_page_follows_the_variant(rows, address, browser, expected):
    page = Client(HTTP_ACCEPT_LANGUAGE=browser).get(unsubscribe_path(rows[address]))
    assert page.status_code == 200 and expected in page.content.decode()


def test_the_confirmation_follows_the_variant(rows):
    done = Client(HTTP_ACCEPT_LANGUAGE="en").post(unsubscribe_path(rows["haruto@example.jp"]))
    body = done.content.decode()
    assert "haruto@example.jp には今後マーケティングメールをお送りしません。" in body
    assert '<html lang="ja">' in body
