"""A delivery in progress to ``n`` fresh profiles, through the real services.

Used inside a test (the test database, Django already set up) and as a script against
a database of its own, which is how the database-restart scenario seeds the throwaway
cluster it restarts::

    ENVOI_DATABASE_URL=postgresql://... python -m tests.support.fault_seed 5000 \\
        --max-retries 50 --retry-delay-seconds 1      # prints the delivery's id
"""

from __future__ import annotations

import argparse
import os
from typing import Any

SENDER = "news@example.com"


def recipient(i: int) -> str:
    return f"r{i}@example.com"


def delivery_in_progress(recipients: int, **fields: Any):
    """Profiles ``r0@…`` to ``r<n-1>@…``, and a delivery to all of them, confirmed."""
    from envoi.audiences.importer import create_profiles
    from envoi.audiences.models import Audience
    from envoi.deliveries import services
    from tests.support.deliveries import boss

    create_profiles([{"email": recipient(i), "first_name": f"R{i}"}
                     for i in range(recipients)])
    # The fault suite tests the ledger, not consent: its profiles have no consent records.
    fields.setdefault("require_consent", False)
    audience = Audience.objects.create(name=f"faults {recipients}", filter="")
    delivery = services.create(
        boss(), label="faults", sender=SENDER, subject="Hello {{ first_name }}",
        text_body="Hello {{ first_name }}.\n\nUnsubscribe: {{ unsubscribe_url }}\n",
        audience=audience, approval_required=False, **fields)
    delivery = services.confirm(boss(), services.prepare(boss(), delivery))
    assert delivery.to_deliver == recipients, (delivery.to_deliver, list(
        delivery.preparation_messages.values_list("message", flat=True)))
    return delivery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recipients", type=int)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--retry-delay-seconds", type=int, default=600)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "envoi.settings")
    import django

    django.setup()
    delivery = delivery_in_progress(args.recipients, max_retries=args.max_retries,
                                    retry_delay_seconds=args.retry_delay_seconds)
    print(delivery.pk)


if __name__ == "__main__":
    main()
