"""Shared data for end-to-end tests: profiles covering every exclusion reason."""

from __future__ import annotations

import email
from email import policy

from envoi.bounces.models import Quarantine, QuarantineStatus

KOREAN_SUBJECT = "{{ first_name }}님, 봄맞이 회원 전용 특별 할인 쿠폰이 도착했어요!"

HTML = """<html><body>
<p>안녕하세요 {{ first_name }} {{ last_name }}님 ({{ attributes.tier | default: "basic" }})</p>
<p><a href="https://shop.example.com/spring?utm=mail">Spring</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

TEXT = "Hello {{ first_name }}\nUnsubscribe: {{ unsubscribe_url }}\n"

# email -> (first_name, expected outcome)
RECIPIENTS = {
    "minji@example.com": ("민지", "send"),
    "haruto@example.jp": ("陽翔", "send"),
    "ada@example.org": ("Ada", "send"),
    "bob@example.net": ("Bob", "send"),
}
EXCLUDED = {
    "": ("NoAddress", "address_missing"),
    "not-an-address": ("Broken", "address_invalid"),
    "ADA@example.org": ("AdaAgain", "duplicate"),
    "gone@example.com": ("Gone", "denylisted"),
    "bounced@example.com": ("Bounced", "quarantined"),
}


def profile_rows() -> list[dict]:
    rows = [{"email": addr, "first_name": name, "last_name": "Kim", "language": "ko",
             "attributes": {"tier": "gold"} if name == "민지" else {}}
            for addr, (name, _) in RECIPIENTS.items()]
    for addr, (name, reason) in EXCLUDED.items():
        rows.append({"email": addr, "first_name": name,
                     "email_opt_out": reason == "denylisted"})
    rows.append({"email": "proof@example.com", "first_name": "Proof", "is_test": True})
    return rows


def quarantine_bounced() -> None:
    Quarantine.objects.create(address="bounced@example.com",
                              status=QuarantineStatus.QUARANTINED, reason="user_unknown")


def delivery_payload(audience_id: int, **overrides) -> dict:
    payload = {"label": "Spring", "sender": "Envoi Shop <news@shop.example.com>",
               "subject": KOREAN_SUBJECT, "html_body": HTML, "text_body": TEXT,
               "audience_id": audience_id}
    payload.update(overrides)
    return payload


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]
