"""Bring a delivery to a given lifecycle state through the real services."""

from __future__ import annotations

from envoi.accounts.roles import Role
from envoi.accounts.services import create_user
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from tests.support.scenario import delivery_payload, profile_rows, quarantine_bounced

# The moves that lead from Editing to each state.
PATHS = {
    "editing": [],
    "pending_approval": ["prepare"],
    "approved": ["prepare", "approve"],
    "in_progress": ["prepare", "approve", "confirm"],
    "paused": ["prepare", "approve", "confirm", "pause"],
}


def boss():
    from django.contrib.auth.models import User

    found = User.objects.filter(username="boss").first()
    return found or create_user("boss", [r.value for r in Role])


def seeded_audience() -> Audience:
    audience = Audience.objects.filter(name="All").first()
    if audience is None:
        create_profiles(profile_rows())
        quarantine_bounced()
        audience = Audience.objects.create(name="All", filter="")
    return audience


def delivery_in(state: str, **overrides) -> Delivery:
    payload = delivery_payload(seeded_audience().pk, **overrides)
    payload["audience"] = Audience.objects.get(pk=payload.pop("audience_id"))
    delivery = services.create(boss(), **payload)
    for move in PATHS[state]:
        delivery = getattr(services, move)(boss(), delivery)
    assert delivery.status == state, (delivery.status, list(
        delivery.preparation_messages.values("message")))
    return delivery


def prepared_delivery(name: str, recipients: int) -> Delivery:
    """A delivery to ``recipients`` new profiles (``{name}{i}@example.com``), prepared
    and needing no approval: one confirm away from sending."""
    create_profiles([{"email": f"{name}{i}@example.com"} for i in range(recipients)])
    audience = Audience.objects.create(name=name, filter="")
    delivery = services.create(boss(), label=name, sender="a@example.com", subject="s",
                               text_body="Hello {{ unsubscribe_url }}", audience=audience,
                               approval_required=False)
    return services.prepare(boss(), delivery)
