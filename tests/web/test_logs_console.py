"""The sending log reads for a marketer: failures only where something failed, the
relay's own words one click away."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.web.conftest import PASSWORD
from tests.web.test_pages import sent_delivery  # noqa: F401  (a fixture)


@pytest.mark.django_db(transaction=True)
def test_a_sent_row_shows_no_failure_and_keeps_the_reply_in_a_detail(sent_delivery):  # noqa: F811
    from envoi.accounts.services import create_user

    create_user("log-reader", ["approve_deliveries"], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.login(username="log-reader", password=PASSWORD)
    page = client.get(f"/deliveries/{sent_delivery.pk}/logs/sending/").content.decode()
    failures = re.findall(r'<td data-testid="failure">(.*?)</td>', page)
    assert failures and all(cell == "" for cell in failures)
    assert re.search(r'<details class="reply"><summary>Show</summary><code>250 ', page)
