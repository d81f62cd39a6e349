"""The outbox shows a captured message as its recipient would: header names in the
reader's language, the raw message to download, a frame as tall as the message."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.sending.models import OutboxMessage
from tests.web.conftest import PASSWORD
from tests.web.test_pages import sent_delivery  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(language: str) -> Client:
    from envoi.accounts.services import create_user

    create_user(f"reader-{language}", ["prepare_deliveries"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.login(username=f"reader-{language}", password=PASSWORD)
    return client


def test_the_raw_message_downloads_as_it_arrived(sent_delivery):  # noqa: F811
    message = OutboxMessage.objects.order_by("id").first()
    response = signed_in("en").get(f"/outbox/{message.pk}/raw.eml")
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="message-{message.pk}.eml"'
    assert response.content == bytes(message.data)


def test_header_names_are_in_the_readers_language(sent_delivery):  # noqa: F811
    message = OutboxMessage.objects.order_by("id").first()
    page = signed_in("ko").get(f"/outbox/{message.pk}/").content.decode()
    assert '<dt title="From">보낸 사람</dt>' in page
    assert '<dt title="Subject">제목</dt>' in page
    assert "다운로드(.eml)" in page


def test_the_frame_grows_to_the_message(sent_delivery, people):  # noqa: F811
    message = OutboxMessage.objects.order_by("id").first()
    page = people("frame-reader", "prepare_deliveries", "ja").page
    page.goto(f"/outbox/{message.pk}/")
    frame = page.locator("iframe[data-grow]")
    frame.wait_for()
    page.wait_for_function("() => document.querySelector('iframe[data-grow]').style.height")
    inner = page.evaluate("() => document.querySelector('iframe[data-grow]')"
                          ".contentDocument.documentElement.scrollHeight")
    height = frame.bounding_box()["height"]
    assert height != 520  # not the fixed height of before
    assert inner <= height <= inner + 20  # the message, whole, with no inner scroll bar
