"""The machine rules, one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envoi.tracking.machine import in_burst, machine_agent, too_soon_after_sending

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

PEOPLE = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
]
SOFTWARE = [
    "", "Mozilla/5.0", "  mozilla/5.0 ",
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))", "Mimecast URL Protect",
    "Proofpoint URL Defense", "Microsoft Office Existence Discovery",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) BingPreview",
    "curl/8.5.0", "python-requests/2.32.3", "Go-http-client/1.1", "Java/17.0.2",
    "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
    "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
]


@pytest.mark.parametrize("agent", PEOPLE)
def test_people_and_image_proxies_that_fetch_on_open_are_human(agent):
    assert not machine_agent(agent)


@pytest.mark.parametrize("agent", SOFTWARE)
def test_prefetchers_scanners_and_scripts_are_machine(agent):
    assert machine_agent(agent)


def test_a_head_request_is_machine_whatever_the_agent():
    assert machine_agent(PEOPLE[1], "HEAD")


def test_a_click_within_the_configured_seconds_of_sending_is_machine(settings):
    assert too_soon_after_sending(T0 + timedelta(seconds=9), T0)
    assert not too_soon_after_sending(T0 + timedelta(seconds=10), T0)
    assert not too_soon_after_sending(T0, None)
    settings.ENVOI_MACHINE_CLICK_SECONDS = 60
    assert too_soon_after_sending(T0 + timedelta(seconds=59), T0)


def test_three_distinct_links_within_two_seconds_is_a_burst():
    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    assert in_burst(at(1), 2, [(at(0), 0), (at(0.5), 1)])
    assert in_burst(at(0), 0, [(at(1), 1), (at(2), 2)])  # the first click of a burst too
    assert not in_burst(at(1), 1, [(at(0), 0), (at(0.5), 0), (at(0.9), 1)])  # 2 links only
    assert not in_burst(at(5), 2, [(at(0), 0), (at(0.5), 1)])  # a reader, link by link
