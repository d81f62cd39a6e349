"""Bounces end to end: send through a real SMTP relay, return bounces over SMTP to the
real listener, then read the sending log, the KPIs, the quarantine and the next
preparation; move the clock for the automatic release.

Runs on SQLite and on PostgreSQL. ``transaction=True``: the listener stores mail on its
own thread and database connection.
"""

from __future__ import annotations

import pytest

from envoi.reporting.jobs import run_due_jobs
from envoi.sending.models import SendingLog
from tests.bounces.mail import arf_report, auto_reply, deliver, postfix_dsn
from tests.support.api import Api

pytestmark = pytest.mark.django_db(transaction=True)

HTML = '<p>Hello {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'

# address -> what happens to the message sent to it
PEOPLE = {
    "happy@example.com": "accepted, no news",
    "also.happy@example.org": "accepted, no news",
    "gone@example.com": "DSN 5.1.1 user unknown",
    "full@example.net": "DSN 5.2.2 mailbox full",
    "blocked@example.net": "DSN 5.7.1 spam block",
    "angry@example.com": "spam complaint",
    "away@example.com": "out-of-office reply",
    "slow@example.net": "delay warning",
    "refused@example.com": "550 5.1.1 at RCPT TO (synchronous)",
}


@pytest.fixture
def admin():
    return Api("boss", "administration", "prepare_deliveries", "start_deliveries", "import")


def prepare(api: Api, label: str, audience_id: int) -> dict:
    delivery = api.ok(api.post("/deliveries", {
        "label": label, "sender": "news@shop.example.com", "subject": "Spring",
        "html_body": HTML, "audience_id": audience_id, "approval_required": False}), 201)
    return api.ok(api.post(f"/deliveries/{delivery['id']}/prepare"))


def test_bounces_change_the_log_the_kpis_the_quarantine_and_the_next_send(
        admin, relay, send_all, listener, bounce_domain, clock):
    admin.ok(admin.post("/profiles", [{"email": a, "first_name": a.split("@")[0]}
                                      for a in PEOPLE]))
    audience = admin.ok(admin.post("/audiences", {"name": "all", "filter": ""}), 201)["id"]
    relay.script("refused@example.com", "550 5.1.1 <refused@example.com>: User unknown")
    first = prepare(admin, "first", audience)
    assert first["counts"]["to_deliver"] == len(PEOPLE)
    admin.ok(admin.post(f"/deliveries/{first['id']}/confirm"))
    send_all()

    sent = {m.rcpt_to[0]: m for m in relay.messages}
    assert sorted(sent) == sorted(a for a in PEOPLE if a != "refused@example.com")
    sent_at = {row.address: row.sent_at for row in SendingLog.objects.all()}

    # 2. the bounces come back over SMTP, to each message's own return path
    def dsn(address, status, text, action="failed"):
        message = sent[address]
        return deliver(listener.port, message.mail_from, postfix_dsn(
            message.mail_from, message.data, address, status, text, action))

    assert dsn("gone@example.com", "5.1.1", "550 5.1.1 <gone@example.com>: User unknown")[0] == 250
    dsn("full@example.net", "5.2.2", "552 5.2.2 Mailbox full")
    dsn("blocked@example.net", "5.7.1", "554 5.7.1 Client host blocked using zen.spamhaus.org")
    dsn("slow@example.net", "4.4.1", "Connection timed out", action="delayed")
    deliver(listener.port, f"fbl@{bounce_domain}",
            arf_report(sent["angry@example.com"].data, "angry@example.com", f"fbl@{bounce_domain}"))
    deliver(listener.port, sent["away@example.com"].mail_from,
            auto_reply("away@example.com", sent["away@example.com"].mail_from))
    # the same bounce twice changes nothing more
    dsn("gone@example.com", "5.1.1", "550 5.1.1 <gone@example.com>: User unknown")
    # mail that names no message of ours, and mail that is no bounce at all: both kept
    deliver(listener.port, f"b-1a.{'a' * 20}@{bounce_domain}", postfix_dsn(
        f"b-1a.{'a' * 20}@{bounce_domain}", b"Subject: x\r\n\r\nx\r\n", "who@example.com",
        "5.1.1", "550 5.1.1 User unknown"))
    deliver(listener.port, f"postmaster@{bounce_domain}", b"Subject: hello\r\n\r\nhi there\r\n")

    # 3a. the sending log
    rows = {row.address: row for row in SendingLog.objects.filter(delivery_id=first["id"])}
    expected = {
        "gone@example.com": ("failed", "hard", "user_unknown"),
        "full@example.net": ("failed", "soft", "mailbox_full"),
        "blocked@example.net": ("failed", "soft", "policy"),
        "refused@example.com": ("failed", "hard", "user_unknown"),
    }
    for address, row in rows.items():
        assert (row.status, row.failure_type, row.failure_reason) == expected.get(
            address, ("sent", "", "")), address
        if address != "refused@example.com":
            assert row.sent_at == sent_at[address], "a bounce keeps the time it was sent"

    # 3b. the KPIs: 9 handed to the relay, 1 refused at once, 3 bounced later
    kpis = admin.ok(admin.get(f"/deliveries/{first['id']}/kpis"))["kpis"]
    assert (kpis["sent"], kpis["delivered"], kpis["failed"]) == (9, 5, 4)
    assert kpis["failed_rate"] == pytest.approx(4 / 9)
    assert kpis["failures_by_type"] == {"hard": 2, "soft": 2}
    assert kpis["failures_by_reason"] == [
        {"type": "hard", "reason": "user_unknown", "count": 2},
        {"type": "soft", "reason": "mailbox_full", "count": 1},
        {"type": "soft", "reason": "policy", "count": 1}]
    recomputed = admin.ok(admin.post(f"/deliveries/{first['id']}/compute-stats"))["kpis"]
    assert recomputed["failures_by_reason"] == kpis["failures_by_reason"]

    # 3c. what was received, as listed
    inbound = admin.ok(admin.get("/bounces", page_size=50))
    assert inbound["count"] == 9
    by_outcome = {}
    for message in inbound["results"]:
        by_outcome.setdefault(message["outcome"], []).append(message)
    assert len(by_outcome["matched"]) == 7
    assert [m["address"] for m in by_outcome["unmatched"]] == ["who@example.com"]
    assert [m["subject"] for m in by_outcome["unparseable"]] == ["hello"]
    raw = admin.client.get(f"/api/v1/bounces/{by_outcome['unparseable'][0]['id']}/raw",
                           headers=admin._headers())
    assert raw.content == b"Subject: hello\r\n\r\nhi there\r\n"

    # 3d. the quarantine
    standing = {q["address"]: (q["status"], q["reason"], q["error_count"])
                for q in admin.ok(admin.get("/quarantine"))["results"]}
    # A refusal by policy (a block list) is not the address's fault: never counted.
    assert standing == {
        "gone@example.com": ("quarantined", "user_unknown", 0),
        "refused@example.com": ("quarantined", "user_unknown", 0),
        "full@example.net": ("erroneous", "mailbox_full", 1),
        "angry@example.com": ("denylisted", "complaint", 0),
    }
    only = admin.ok(admin.get("/quarantine", status="quarantined", reason="user_unknown"))
    assert {q["address"] for q in only["results"]} == {"gone@example.com", "refused@example.com"}
    history = admin.ok(admin.get("/quarantine/GONE@example.com"))["history"]
    assert [(h["from_status"], h["to_status"], h["source"]) for h in history] == [
        ("valid", "quarantined", "bounce")]

    # 3e. the next preparation leaves out the quarantined and denylisted addresses
    second = prepare(admin, "second", audience)
    assert second["counts"]["exclusions"] == {"quarantined": 2, "denylisted": 1}
    assert second["counts"]["to_deliver"] == len(PEOPLE) - 3
    exclusions = admin.ok(admin.get(f"/deliveries/{second['id']}/logs/exclusions"))
    assert {r["address"]: r["reason"] for r in exclusions["results"]} == {
        "gone@example.com": "quarantined", "refused@example.com": "quarantined",
        "angry@example.com": "denylisted"}

    # 4. the clock moves: erroneous addresses are released 10 days after their last
    # error, 30 days when the mailbox was full; quarantine and denylist only by hand
    clock.advance(days=10, minutes=1)
    assert "quarantine_release" in run_due_jobs(clock.now(), "test")
    standing = {q["address"]: q["status"] for q in admin.ok(admin.get("/quarantine"))["results"]}
    assert "blocked@example.net" not in standing and standing["full@example.net"] == "erroneous"
    clock.advance(days=20)
    run_due_jobs(clock.now(), "test")
    standing = {q["address"]: q["status"] for q in admin.ok(admin.get("/quarantine"))["results"]}
    assert standing == {"gone@example.com": "quarantined", "refused@example.com": "quarantined",
                        "angry@example.com": "denylisted"}
    released = admin.ok(admin.get("/quarantine/full@example.net"))
    assert [h["reason"] for h in released["history"]] == ["no_error_30_days", "mailbox_full"]

    preparer = Api("paula", "prepare_deliveries")
    refused = preparer.post("/quarantine/gone@example.com/release")
    assert refused.status_code == 403
    done = admin.ok(admin.post("/quarantine/gone@example.com/release", {"note": "fixed"}))
    assert done["status"] == "valid" and done["history"][0]["actor"] == "boss"
