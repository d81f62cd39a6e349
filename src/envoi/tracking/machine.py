"""Which opens and clicks software made, not people (the ``machine`` flag of an event).

KPIs can count or leave out machine events; the events themselves are always kept.

======================================  ==============================================
Rule                                    Why
======================================  ==============================================
user agent is empty, or exactly         Apple Mail Privacy Protection prefetches every
``Mozilla/5.0``                         image through its proxy with this bare agent,
                                        whether or not the message is ever read
user agent names a link scanner         security gateways follow every link of a
(:data:`SCANNER_AGENTS`)                message on arrival (Barracuda, Mimecast,
                                        Proofpoint, Microsoft Safe Links, …)
user agent is a script or a bot         ``curl``, ``python-requests``, ``Go-http-client``,
(:data:`SCRIPT_AGENTS`)                 crawlers and link previewers
request method is ``HEAD``              link checkers; a browser never clicks with HEAD
a click within                          no person reads a message and clicks this fast;
``ENVOI_MACHINE_CLICK_SECONDS``         scanners click on delivery
(default 10) of sending
a click with clicks on at least         a scanner clicking through the whole message;
:data:`BURST_LINKS` - 1 other links of  a person opens one link at a time
the same message within
:data:`BURST_SECONDS` before or after
======================================  ==============================================

Image proxies that fetch when the person opens the message are *human* opens:
``GoogleImageProxy`` (Gmail), ``YahooMailProxy``, Outlook's and Thunderbird's own
fetches. Timing rules apply to clicks only: an open right after delivery is usually
a person who had the mailbox open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings

PRIVACY_PREFETCH_AGENTS = frozenset({"", "mozilla/5.0"})
SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|urldefense|safelinks|microsoft office existence"
    r"|bingpreview|trend ?micro|forcepoint|messagelabs|symantec|sophos|fireeye|ironport"
    r"|cisco ?email|vade ?secure|hornetsecurity|spamtitan|appriver|zscaler ?sandbox",
    re.IGNORECASE)
SCRIPT_AGENTS = re.compile(
    r"curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/"
    r"|libwww-perl|apache-httpclient|headlesschrome|phantomjs"
    r"|bot\b|crawler|spider|facebookexternalhit|slack-imgproxy|whatsapp",
    re.IGNORECASE)
BURST_LINKS = 3
BURST_SECONDS = 2.0


def machine_agent(user_agent: str, method: str = "GET") -> bool:
    """True when the request itself shows software: the agent or the method."""
    agent = user_agent.strip()
    return (method == "HEAD" or agent.lower() in PRIVACY_PREFETCH_AGENTS
            or bool(SCANNER_AGENTS.search(agent)) or bool(SCRIPT_AGENTS.search(agent)))


def too_soon_after_sending(clicked_at: datetime, sent_at: datetime | None) -> bool:
    if sent_at is None:
        return False
    return clicked_at - sent_at < timedelta(seconds=settings.ENVOI_MACHINE_CLICK_SECONDS)


def in_burst(clicked_at: datetime, link_index: int | None,
             clicks_of_message: Iterable[tuple[datetime, int | None]]) -> bool:
    """True when, within :data:`BURST_SECONDS` of this click, the same message had clicks
    on enough other distinct links to make :data:`BURST_LINKS` in all."""
    window = timedelta(seconds=BURST_SECONDS)
    links = {link for at, link in clicks_of_message if abs(at - clicked_at) <= window}
    links.add(link_index)
    return len(links) >= BURST_LINKS
