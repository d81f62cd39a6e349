"""What the worker reads of each profile reaches that recipient's message, on both
databases (the profiles of a batch are loaded in one plain query)."""

from __future__ import annotations

import pytest

from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.sending.worker import Worker
from tests.support.deliveries import boss


@pytest.mark.django_db(transaction=True)
def test_profile_fields_and_attributes_reach_each_message(relay):
    create_profiles([
        {"email": "kim@example.com", "first_name": "민지", "last_name": "김",
         "attributes": {"tier": "gold", "city": "서울"}},
        {"email": "ito@example.com", "first_name": "Ito", "language": "ja"},
    ])
    audience = Audience.objects.create(name="p", filter="")
    delivery = services.create(
        boss(), label="p", sender="a@example.com", subject="{{ first_name }}",
        text_body="{{ last_name }}/{{ language }}/{{ attributes.tier | default: 'basic' }}/"
                  "{{ attributes.city }} {{ unsubscribe_url }}",
        audience=audience, approval_required=False)
    services.confirm(boss(), services.prepare(boss(), delivery))

    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}").run(until_idle=True)

    bodies = {m.rcpt_to[0]: m.parsed() for m in relay.messages}
    kim, ito = bodies["kim@example.com"], bodies["ito@example.com"]
    assert (kim["Subject"], ito["Subject"]) == ("민지", "Ito")
    assert kim.get_content().startswith("김//gold/서울 ")
    assert ito.get_content().startswith("/ja/basic/ ")
