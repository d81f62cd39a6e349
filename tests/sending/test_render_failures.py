"""A recipient whose message cannot be rendered fails alone: the worker, its batch and
every other delivery go on, and a delivery where many fail pauses itself."""

from __future__ import annotations

import pytest
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.audiences.importer import create_profiles
from envoi.audiences.models import Audience
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending import personalization
from envoi.sending.models import SendingLog
from envoi.sending.worker import Worker
from tests.support.deliveries import boss, prepared_delivery

POISON = ("<p>{{ first_name }}: {{ attributes.total | divided_by: attributes.count }}</p>\n"
          '<a href="{{ unsubscribe_url }}">stop</a>')


def poisoned_delivery(name: str, with_count: int, without_count: int) -> Delivery:
    """Profiles with ``count`` render; those without fail ``divided_by``."""
    create_profiles(
        [{"email": f"{name}-ok{i}@example.com", "attributes": {"total": 10, "count": 2}}
         for i in range(with_count)]
        + [{"email": f"{name}-bad{i}@example.com", "attributes": {"total": 10}}
           for i in range(without_count)])
    audience = Audience.objects.create(name=name, filter=f'email contains "{name}-"')
    delivery = services.create(boss(), label=name, sender="a@example.com", subject="s",
                               html_body=POISON, audience=audience, approval_required=False)
    return services.prepare(boss(), delivery)


def rows(delivery: Delivery) -> list[dict]:
    return list(SendingLog.objects.filter(delivery=delivery).order_by("id").values(
        "address", "status", "failure_reason", "smtp_reply"))


@pytest.mark.django_db(transaction=True)
def test_a_failing_render_fails_its_row_and_the_worker_sends_everything_else(
        relay, monkeypatch):
    monkeypatch.setattr(personalization, "PAUSE_AFTER", 0)  # never pause: count them all
    healthy = prepared_delivery("healthy", 30)
    poisoned = poisoned_delivery("poison", 4, 6)
    for delivery in (healthy, poisoned):
        services.confirm(boss(), delivery)

    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=7).run(until_idle=True)

    assert {r["status"] for r in rows(healthy)} == {"sent"}
    failed = [r for r in rows(poisoned) if r["status"] == "failed"]
    assert sorted(r["address"] for r in failed) == [f"poison-bad{i}@example.com"
                                                    for i in range(6)]
    assert {r["failure_reason"] for r in failed} == {"personalization_error"}
    assert failed[0]["smtp_reply"] == (
        "html_body, line 1, column 44: divided_by: can't divide by 0")
    sent_to = sorted(address for m in relay.messages for address in m.rcpt_to)
    expected = sorted([f"healthy{i}@example.com" for i in range(30)]
                      + [f"poison-ok{i}@example.com" for i in range(4)])
    assert sent_to == expected  # each once: nothing lost, nothing twice
    for delivery in (healthy, poisoned):
        delivery.refresh_from_db()
        assert delivery.status == "finished"


@pytest.mark.django_db(transaction=True)
def test_a_delivery_whose_failures_pass_the_threshold_pauses_itself(relay, monkeypatch):
    monkeypatch.setattr(personalization, "PAUSE_AFTER", 5)
    monkeypatch.setattr(personalization, "PAUSE_RATIO", 0.2)
    poisoned = poisoned_delivery("storm", 5, 60)
    services.confirm(boss(), poisoned)

    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=20).run(until_idle=True)

    poisoned.refresh_from_db()
    assert poisoned.status == "paused"
    statuses = [r["status"] for r in rows(poisoned)]
    failed = statuses.count("failed")
    assert 5 <= failed <= 20 and statuses.count("pending") >= 40  # stopped early
    entry = AuditEntry.objects.get(delivery_id=poisoned.pk,
                                   action=personalization.AUTO_PAUSE)
    assert 5 <= entry.detail["failed"] <= failed  # the batch being rendered is recorded too
    assert "divided_by: can't divide by 0" in entry.detail["example"]

    client = Client()
    client.force_login(boss())
    page = client.get(f"/deliveries/{poisoned.pk}/").content.decode()
    assert 'data-testid="auto-pause"' in page
    assert "divided_by: can&#x27;t divide by 0" in page
    client.cookies["envoi_language"] = "ja"
    assert "配信が自動的に一時停止しました" in client.get(
        f"/deliveries/{poisoned.pk}/").content.decode()

    # Resumed by a person, it sends on and pauses again only after as many more fail.
    services.resume(boss(), poisoned)
    assert personalization.auto_pause(poisoned.pk) is None
    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}", batch_size=20).run(until_idle=True)
    poisoned.refresh_from_db()
    assert poisoned.status == "paused"
    assert AuditEntry.objects.filter(delivery_id=poisoned.pk,
                                     action=personalization.AUTO_PAUSE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_template_saved_with_include_before_it_was_refused_fails_rows_not_the_worker(
        relay, monkeypatch):
    monkeypatch.setattr(personalization, "PAUSE_AFTER", 0)
    healthy = prepared_delivery("fine", 5)
    legacy = prepared_delivery("legacy", 3)
    # As stored by an older version, which accepted the tag.
    Delivery.objects.filter(pk=legacy.pk).update(
        text_body='{% include "footer" %} {{ unsubscribe_url }}')
    for delivery in (healthy, legacy):
        services.confirm(boss(), delivery)

    Worker(smtp_url=f"smtp://127.0.0.1:{relay.port}").run(until_idle=True)

    assert {r["status"] for r in rows(healthy)} == {"sent"}
    failures = rows(legacy)
    assert {r["failure_reason"] for r in failures} == {"personalization_error"}
    assert failures[0]["smtp_reply"].startswith(
        "text_body, line 1, column 4: {% include %} is not supported")
    assert len(relay.messages) == 5

    # Its mirror page says the message cannot be shown; its proof is refused.
    from envoi.tracking import tokens

    row = SendingLog.objects.filter(delivery=legacy).first()
    mirror = tokens.mirror_url(legacy.pk, row.pk, None).removeprefix("http://testserver")
    assert "This message cannot be shown" in Client().get(mirror).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("tag", ["include", "render"])
def test_file_tags_keep_the_draft_and_fail_preparation_with_line_and_column(tag):
    """The draft keeps its work (a saved delivery is not refused for its content), and
    preparation, which blocks, names the tag's line and column: it never reaches a
    worker, where it could only fail at render time."""
    create_profiles([{"email": "x@example.com"}])
    audience = Audience.objects.create(name="x", filter="")
    delivery = services.create(
        boss(), label="x", sender="a@example.com", subject="s",
        text_body=f'Hi\n  {{% {tag} "footer" %}} {{{{ unsubscribe_url }}}}',
        audience=audience)
    delivery = services.prepare(boss(), delivery)
    assert delivery.status == "preparation_failed"
    finding = delivery.preparation_messages.get(level="error", field="text_body")
    assert (finding.field, finding.line, finding.column) == ("text_body", 2, 6)
    assert finding.message.endswith(
        f"{{% {tag} %}} is not supported: it loads a template "
        "from a file, and a delivery has none; write its content here instead")
