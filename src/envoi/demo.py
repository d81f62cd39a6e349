"""The embedded shape: SQLite, an in-process worker, a capture SMTP outbox, a bounce
listener, the API.

``envoi demo`` needs nothing but the package. On first start it creates a user holding
every role, a few profiles in English, Korean and Japanese, an audience and a draft
delivery, and prints a token to drive them through the API.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from envoi.accounts.roles import Role
from envoi.accounts.services import create_token, create_user

if TYPE_CHECKING:
    from envoi.bounces.listener import BounceListener

DEMO_USER = "demo"

DEMO_PROFILES: list[dict[str, Any]] = [
    {"email": "minji.kim@example.com", "first_name": "민지", "last_name": "김",
     "language": "ko", "timezone": "Asia/Seoul", "attributes": {"vip": True}},
    {"email": "haruto.sato@example.jp", "first_name": "陽翔", "last_name": "佐藤",
     "language": "ja", "timezone": "Asia/Tokyo", "attributes": {"vip": False}},
    {"email": "ada@example.org", "first_name": "Ada", "last_name": "Lovelace",
     "language": "en", "timezone": "Europe/London", "attributes": {"vip": True}},
    {"email": "ADA@example.org", "first_name": "Ada", "last_name": "Duplicate",
     "language": "en"},
    {"email": "not-an-address", "first_name": "Broken", "language": "en"},
    {"email": "proof@example.com", "first_name": "Proof", "language": "en",
     "is_test": True},
]

DEMO_HTML = """<html><body>
<p>{{ first_name }}님, 안녕하세요!</p>
<p>Spring offers are here: <a href="https://example.com/spring">see them</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


DEMO_PASSWORD = "demo"
DEMO_DRAFT = "Spring offers"
DEMO_AUDIENCE = "Everyone"


def seed() -> str | None:
    """Create the demo data; return a fresh token for the demo user.

    The user and the profiles are created once. The draft delivery is created again
    whenever none of that label is left to send (it was sent or deleted), so that the
    README's walkthrough (prepare, approve, confirm) works on every start."""
    from envoi.audiences.importer import create_profiles

    user = User.objects.filter(username=DEMO_USER).first()
    if user is None:
        user = create_user(DEMO_USER, [r.value for r in Role], password=DEMO_PASSWORD)
        create_profiles(DEMO_PROFILES)
    seed_draft(user)
    return create_token(user, name="demo")


def seed_draft(user: User) -> int:
    """The id of the demo's draft delivery, created when none is left to send."""
    from envoi.audiences.models import Audience
    from envoi.deliveries.lifecycle import EDITABLE_STATES
    from envoi.deliveries.models import Delivery

    draft = (Delivery.objects.filter(label=DEMO_DRAFT, status__in=EDITABLE_STATES)
             .order_by("id").first())
    if draft is not None:
        return draft.pk
    audience = (Audience.objects.filter(name=DEMO_AUDIENCE).first()
                or Audience.objects.create(name=DEMO_AUDIENCE, filter=""))
    return Delivery.objects.create(
        label=DEMO_DRAFT, sender="Envoi Demo <news@example.com>",
        subject="{{ first_name }}님, 봄맞이 특별 할인 쿠폰이 도착했어요!",
        html_body=DEMO_HTML, text_body="Hello {{ first_name }}\nUnsubscribe: "
        "{{ unsubscribe_url }}\n", audience=audience, created_by=user,
    ).pk


def run_demo(host: str, port: int, smtp_port: int) -> int:
    import uvicorn

    from envoi.sending.outbox import CaptureServer
    from envoi.sending.worker import run_in_thread

    call_command("migrate", interactive=False, verbosity=0)
    token = seed()
    draft = seed_draft(User.objects.get(username=DEMO_USER))
    outbox = CaptureServer("127.0.0.1", smtp_port)
    outbox.start()
    bounces = start_bounce_listener()
    stop = threading.Event()
    run_in_thread(stop)
    print(banner(settings.ENVOI_BASE_URL, token, draft, smtp_port,
                 f"{bounces.host}:{bounces.port}" if bounces else "not listening"),
          flush=True)
    try:
        uvicorn.run("envoi.asgi:application", host=host, port=port, log_level="warning")
    finally:
        stop.set()
        outbox.stop()
        if bounces:
            bounces.stop()
    return 0


def banner(base: str, token: str | None, draft: int, smtp_port: int, bounces: str) -> str:
    """What the demo prints on start: where the console is and how to sign in, the API,
    the outbox, the token, and the seeded draft to try."""
    return f"""
Envoi is running (embedded shape: {settings.DATABASES['default']['NAME']})
  Console:  {base}/   (sign in as {DEMO_USER} / {DEMO_PASSWORD})
  API:      {base}/api/v1/   (OpenAPI: {base}/api/v1/openapi.json, docs: {base}/api/v1/docs)
  Outbox:   captured messages at {base}/api/v1/outbox (SMTP on 127.0.0.1:{smtp_port})
  Bounces:  {bounces}
  Token:    {token}
  Draft:    {base}/deliveries/{draft}/
  Try:      curl -H "Authorization: Bearer {token}" {base}/api/v1/deliveries/{draft}
"""


def start_bounce_listener() -> BounceListener | None:
    """The bounce listener on ENVOI_BOUNCE_LISTEN; the demo runs on without it (with a
    warning) when that port is taken."""
    from envoi.bounces.listener import BounceListener, parse_listen

    host, port = parse_listen(settings.ENVOI_BOUNCE_LISTEN)
    listener = BounceListener(host, port)
    try:
        listener.start()
    except Exception as error:
        print(f"warning: bounce listener not started on {host}:{port}: {error}", flush=True)
        return None
    return listener
