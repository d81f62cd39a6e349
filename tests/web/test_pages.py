"""Every console page, in every language: no server error, no broken link, no English
left in the Korean and Japanese pages.

The crawler signs in as a user holding every role, starts at the deliveries list and
follows every same-site link it finds (anchors, htmx fragments, frames, stylesheets,
scripts, GET forms), on a database holding deliveries in several states, a sent one
with opens and clicks, a scheduled one, recurring ones with executions, profiles,
audiences, users, captured messages and addresses in quarantine with their history.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from envoi.accounts.models import AuditEntry
from envoi.audiences.models import Audience, Profile
from envoi.audiences.services import create_audience
from envoi.bounces import quarantine
from envoi.bounces.models import Quarantine, QuarantineEvent
from envoi.deliveries import services
from envoi.deliveries.models import Delivery, PreparationMessage, Recurrence
from envoi.sending.models import OutboxMessage, SendingLog
from envoi.sending.outbox import CaptureServer
from envoi.sending.worker import Worker
from envoi.tracking.models import TrackingEvent
from envoi.web import catalogues
from tests.support.deliveries import boss, delivery_in
from tests.support.scenario import parse
from tests.support.smtpd import free_port
from tests.web.conftest import PASSWORD
from tests.web.schedules import fire_runs, recurring_in

pytestmark = pytest.mark.django_db(transaction=True)
MAX_PAGES = 400
ALLOWED_WORDS = {"Envoi", "SMS", "HTML", "MJML", "UTC", "cron", "API", "KPI"}
WORD = re.compile(r"[A-Za-z]{3,}")
ADDRESS = re.compile(r"\S+@[\w.-]+|https?://\S+")
NOT_PROSE = {"code", "pre", "script", "style", "abbr", "textarea", "option"}
# How each language writes a date and time (envoi/web/formats); a <time> element's text
# must read this way, and no prose may carry a raw ISO timestamp.
LOCALE_TIME = {
    "en": re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4}(, \d{1,2}:\d{2} (AM|PM))?"),
    "ko": re.compile(r"\d{4}\. \d{1,2}\. \d{1,2}\.( (오전|오후) \d{1,2}:\d{2})?"),
    "ja": re.compile(r"\d{4}/\d{2}/\d{2}( \d{2}:\d{2})?"),
}
RAW_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture
def sent_delivery(settings):
    """A delivery sent through the capture outbox, with an open and a click."""
    server = CaptureServer("127.0.0.1", free_port())
    server.start()
    try:
        delivery = delivery_in("approved")
        services.confirm(boss(), delivery)
        Worker(smtp_url=f"smtp://127.0.0.1:{server.port}").run(until_idle=True)
    finally:
        server.stop()
    settings.ENVOI_MACHINE_CLICK_SECONDS = 0
    client = Client()
    for message in OutboxMessage.objects.all()[:2]:
        html = parse(bytes(message.data)).get_body(("html",)).get_content()
        for path in re.findall(r'"http://testserver(/[oc]/[^"]+)"', html)[:2]:
            client.get(path)
    assert TrackingEvent.objects.exists()
    return delivery


@pytest.fixture
def crowded(sent_delivery):
    """Deliveries in other states, a failed preparation, a saved filter, a refusal."""
    delivery_in("editing", label="Draft")
    delivery_in("pending_approval", label="Awaiting")
    broken = delivery_in("editing", label="Broken", html_body="<p>no unsubscribe link</p>",
                         text_body="")
    services.prepare(boss(), broken)
    assert PreparationMessage.objects.filter(delivery=broken).exists()
    create_audience(boss(), "Korean speakers", 'language = "ko"')
    return sent_delivery


@pytest.fixture
def scheduled(monkeypatch):
    """A delivery waiting for its contact date (sent at each recipient's time of day);
    a running recurring delivery with one execution waiting and one confirmed; another,
    on a cron expression and aggregated by week, in editing; addresses in quarantine,
    one of them released by hand."""
    # The dashboard then lists fewer executions than there are: the full list is linked.
    monkeypatch.setattr("envoi.web.views.schedule.EXECUTIONS_ON_DASHBOARD", 1)
    waiting = delivery_in("approved", label="Scheduled", time_zone="Asia/Seoul",
                          contact_date=datetime(2031, 3, 8, 9, 0), recipient_time_zone=True)
    services.confirm(boss(), waiting)
    parent = recurring_in("in_progress", label="Daily news")
    first, _ = fire_runs(parent, 2)
    services.confirm(boss(), first)
    recurring_in("editing", label="Weekdays", time_zone="Asia/Tokyo", every=None,
                 at=None, cron="30 8 * * 1-5", aggregation="week",
                 ends_at="2031-12-31T18:00")
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    quarantine.note_failures([
        quarantine.Failure("gone@example.com", "hard", "user_unknown", "bounce"),
        quarantine.Failure("full@example.com", "soft", "mailbox_full", "sending"),
        quarantine.Failure("fixed@example.com", "hard", "invalid_domain", "sending")], now)
    quarantine.denylist("angry@example.com", "complaint", now)
    quarantine.release(boss(), "fixed@example.com", "checked with the customer")


class Page(HTMLParser):
    """Links and visible text of one HTML page."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.links: list[str] = []
        self.texts: list[str] = []
        self.times: list[str] = []
        self._skip: list[str] = []
        self._in_time = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for name in ("href", "src", "hx-get"):
            if found.get(name):
                self.links.append(found[name])
        if tag == "form" and found.get("method", "get") == "get" and found.get("action"):
            self.links.append(found["action"])
        self._in_time = tag == "time" or self._in_time
        other_language = found.get("lang") not in (None, self.language)
        if tag in NOT_PROSE or other_language:
            self._skip.append(tag)
        elif not self._skip:
            self.texts += [found[a] for a in ("title", "placeholder", "aria-label", "alt")
                           if found.get(a)]

    def handle_endtag(self, tag):
        if tag == "time":
            self._in_time = False
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if self._in_time and data.strip():
            self.times.append(data.strip())  # the date; the zone follows in an <abbr>
            self._in_time = False
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def data_values() -> list[str]:
    """Every text the database holds that a page may show as it is: names, labels,
    addresses, subjects, codes. Longest first, so that none hides a longer one."""
    values: set[str] = set()
    for model, fields in [
        (Delivery, ["label", "sender", "subject", "html_body", "text_body"]),
        (Audience, ["name", "filter"]), (User, ["username"]),
        (Profile, ["email", "first_name", "last_name", "language", "timezone"]),
        (SendingLog, ["address", "smtp_reply"]), (TrackingEvent, ["url"]),
        (OutboxMessage, ["subject", "mail_from"]), (AuditEntry, ["action", "actor_name"]),
        (Delivery, ["time_zone", "period"]), (Recurrence, ["cron"]),
        (Quarantine, ["address"]), (QuarantineEvent, ["actor", "note"]),
    ]:
        for row in model.objects.values_list(*fields):
            values.update(str(value) for value in row if value)
    for detail in AuditEntry.objects.values_list("detail", flat=True):
        values.update(str(value) for value in detail.values())
    for attributes in Profile.objects.values_list("attributes", flat=True):
        values.update(str(value) for value in attributes.values())
    return sorted(values, key=len, reverse=True)


def english_left(text: str, data: list[str]) -> list[str]:
    for value in data:
        text = text.replace(value, " ")
    text = ADDRESS.sub(" ", text)
    return [word for word in WORD.findall(text) if word not in ALLOWED_WORDS]


def english_messages(language: str) -> set[str]:
    """Source strings whose translation differs: seeing one means it was not translated."""
    return {m.id for m in catalogues.read_catalogue(language)
            if isinstance(m.id, str) and m.id and m.string and m.string != m.id}


def crawl(client: Client, language: str) -> dict[str, list[str]]:
    """Visit every page reachable from the deliveries list; return problems by URL."""
    problems: dict[str, list[str]] = {}
    english = english_messages(language) if language != "en" else set()
    data = data_values()
    queue, seen = deque(["/deliveries/"]), {"/deliveries/"}
    while queue and len(seen) <= MAX_PAGES:
        url = queue.popleft()
        found = visit(client, url, language, english, data)
        if found.problems:
            problems[url] = found.problems
        for link in found.links:
            target = same_site(url, link)
            if target and target not in seen:
                seen.add(target)
                queue.append(target)
    assert len(seen) > 40, sorted(seen)  # the crawl reached the whole console
    reached = {path for path in seen if path.startswith(("/quarantine/", "/deliveries/"))}
    assert {"/quarantine/", *quarantine_pages()} <= reached, sorted(seen)
    assert any(path.endswith("/executions/") for path in seen), sorted(seen)
    return problems


def quarantine_pages() -> set[str]:
    """The addresses the quarantine page lists by default (valid ones only on a filter)."""
    listed = Quarantine.objects.exclude(status="valid").values_list("pk", flat=True)
    return {f"/quarantine/{pk}/" for pk in listed}


class Visit:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.links: list[str] = []


def visit(client: Client, url: str, language: str, english: set[str],
          data: list[str]) -> Visit:
    found = Visit()
    if url.startswith("/static/"):
        if not finders.find(urlsplit(url).path.removeprefix("/static/")):
            found.problems.append("missing static file")
        return found
    response = client.get(url, follow=True)
    if response.status_code != 200:
        found.problems.append(f"HTTP {response.status_code}")
        return found
    if not response["Content-Type"].startswith("text/html") or is_a_message(url):
        return found
    page = Page(language)
    page.feed(response.content.decode())
    found.links = page.links
    found.problems += dates_not_in_locale_form(page, language, data)
    if language != "en":
        for text in page.texts:
            if (text in english and text not in data) or english_left(text, data):
                found.problems.append(f"untranslated: {text!r}")
    return found


def dates_not_in_locale_form(page: Page, language: str, data: list[str]) -> list[str]:
    problems = [f"date not in the {language} form: {text!r}" for text in page.times
                if not LOCALE_TIME[language].fullmatch(text)]
    for text in page.texts:
        if RAW_TIMESTAMP.search(text) and text not in data:
            problems.append(f"raw timestamp: {text!r}")
    return problems


def is_a_message(url: str) -> bool:
    """A captured message or mirror page: the sender's text, in the sender's language."""
    path = urlsplit(url).path
    return url.startswith("/m/") or (url.startswith("/outbox/") and url.endswith("/body/")) \
        or (url.startswith("/deliveries/") and path.endswith("/preview/body/"))


def same_site(base: str, link: str) -> str | None:
    if link.startswith(("mailto:", "tel:", "#", "data:", "javascript:")):
        return None
    parts = urlsplit(urljoin(f"http://testserver{base}", link))
    if parts.netloc != "testserver" or parts.path.startswith(("/c/", "/o/", "/u/")):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_every_page_answers_and_is_translated(crowded, scheduled, language):
    from envoi.accounts.roles import Role
    from envoi.accounts.services import create_user

    create_user(f"crawler-{language}", [r.value for r in Role], PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username=f"crawler-{language}", password=PASSWORD)
    assert crawl(client, language) == {}
