"""Issue 3 end to end: send through a real SMTP server, follow the links in the received
messages over real HTTP (a live server on loopback), run the hourly job, and check every
KPI against hand-computed values; Compute stats must agree.

Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from envoi.sending.models import SendingLog
from tests.support.api import Api
from tests.support.scenario import parse

HTML = """<html><body>
<p>Hello {{ first_name }}</p>
<p><a href="https://shop.example.com/a">A</a>
<a href="https://shop.example.com/b?x=1&amp;y=2">B</a>
<a href="https://shop.example.com/c/{{ first_name }}">C</a></p>
<p><a href="{{ mirror_url }}">View in browser</a> ·
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)"
PEOPLE = ["opener", "clicker", "replayer", "mirror", "leaver", "scanned"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, *, user_agent: str = BROWSER, data: bytes | None = None):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers={"User-Agent": user_agent})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def links_of(message) -> dict[str, str]:
    html = message.get_body(("html",)).get_content()
    hrefs = re.findall(r'href="([^"]+)"', html)
    pixel = re.search(r'<img src="([^"]+/o/[^"]+)"', html)
    return {"a": hrefs[0], "b": hrefs[1], "c": hrefs[2], "mirror": hrefs[3],
            "unsubscribe": hrefs[4], "pixel": pixel.group(1) if pixel else ""}


@pytest.mark.django_db(transaction=True)
def test_links_opens_and_kpis(live_server, settings, relay, send_all):
    settings.ENVOI_BASE_URL = live_server.url
    boss = Api("tracker", "prepare_deliveries", "import", "start_deliveries")
    boss.ok(boss.post("/profiles", [{"email": f"{p}@example.com", "first_name": p}
                                    for p in PEOPLE]))
    audience = boss.ok(boss.post("/audiences", {"name": "t", "filter": ""}), 201)
    delivery = boss.ok(boss.post("/deliveries", {
        "label": "tracked", "sender": "news@shop.example.com", "subject": "Hi {{ first_name }}",
        "html_body": HTML, "audience_id": audience["id"], "approval_required": False}), 201)
    boss.ok(boss.post(f"/deliveries/{delivery['id']}/prepare"))
    boss.ok(boss.post(f"/deliveries/{delivery['id']}/confirm"))
    send_all()
    # The messages went out an hour ago: no click here is "too fast to be human".
    SendingLog.objects.update(sent_at=timezone.now() - timedelta(hours=1))

    links = {m.rcpt_to[0].split("@")[0]: links_of(parse(m.data)) for m in relay.messages}
    assert sorted(links) == sorted(PEOPLE)
    for person in PEOPLE:
        assert all(url.startswith(live_server.url) for url in links[person].values())

    assert fetch(links["opener"]["pixel"])[0] == 200
    status, headers, _ = fetch(links["clicker"]["a"])
    assert (status, headers["Location"]) == (302, "https://shop.example.com/a")
    status, headers, _ = fetch(links["clicker"]["b"])
    assert (status, headers["Location"]) == (302, "https://shop.example.com/b?x=1&y=2")
    for _ in range(2):
        status, headers, _ = fetch(links["replayer"]["c"])
        assert (status, headers["Location"]) == (302, "https://shop.example.com/c/replayer")
    status, _, page = fetch(links["mirror"]["mirror"])
    assert status == 200 and b"Hello mirror" in page
    assert fetch(links["leaver"]["unsubscribe"], data=b"List-Unsubscribe=One-Click")[0] == 200
    assert fetch(links["scanned"]["a"], user_agent=SCANNER)[0] == 302
    tampered = links["clicker"]["a"][:-3] + ("xyz" if not links["clicker"]["a"].endswith("xyz")
                                              else "abc")
    status, headers, _ = fetch(tampered)
    assert status == 400 and "Location" not in headers

    from envoi.tracking import buffer

    buffer.flush()
    check_kpis(boss, delivery["id"], settings)


def check_kpis(api: Api, delivery_id: int, settings) -> None:
    """Hand-computed from SPEC §6 for the clicks above (6 delivered messages)."""
    from envoi.reporting.jobs import run_due_jobs

    assert run_due_jobs(timezone.now() + timedelta(days=1), "test"), "the hourly job ran"
    hourly = api.ok(api.get(f"/deliveries/{delivery_id}/kpis"))["kpis"]
    recomputed = api.ok(api.post(f"/deliveries/{delivery_id}/compute-stats"))["kpis"]
    for name, value in EXPECTED_KPIS.items():
        assert hourly[name] == pytest.approx(value), name
        assert recomputed[name] == pytest.approx(value), name


# Six messages, all accepted by the relay. Opens (a click, mirror view or unsubscribe
# also counts): opener, clicker, replayer, mirror, leaver, and scanned — whose only
# event is a link scanner's click, a machine event. Clicks: clicker, replayer (twice,
# counted once), scanned (machine).
EXPECTED_KPIS = {
    "to_deliver": 6, "sent": 6, "sent_rate": 1.0, "delivered": 6, "delivered_rate": 1.0,
    "failed": 0, "failed_rate": 0.0,
    "opens": 6, "opens_human": 5, "open_rate": 6 / 6, "open_rate_human": 5 / 6,
    "clicks": 3, "clicks_human": 2, "click_rate": 3 / 6, "click_rate_human": 2 / 6,
    "mirror_views": 1, "unsubscriptions": 1,
}
