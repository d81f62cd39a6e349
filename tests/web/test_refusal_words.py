"""The core's refusals of a delivery's fields read in the reader's language, on the field."""

from __future__ import annotations

import pytest

from envoi.deliveries.models import Delivery
from tests.web.conftest import signed_in
from tests.web.test_sms_console import sms_form

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "words"), [
    ("ko", "올바른 주소가 아닙니다."), ("ja", "アドレスではありません。")])
def test_an_invalid_sender_is_refused_in_the_readers_language(language, words):
    client = signed_in("paula", "prepare_deliveries", language=language)
    response = client.post("/deliveries/new/", sms_form(channel="email", sender="not mail",
                                                        subject="Hi"))
    page = response.content.decode()
    assert response.status_code == 400 and words in page
    assert "is not an address" not in page
    assert not Delivery.objects.exists()


def test_an_sms_sender_refusal_is_translated():
    client = signed_in("paula", "prepare_deliveries", language="ja")
    response = client.post("/deliveries/new/", sms_form(sender="Envoi Shop Korea"))
    assert "SMS の送信元は" in response.content.decode()
