"""The sending-domain page in a real browser: red checks with the exact problem and the
records to publish; published, they turn green. Screenshots in ``artifacts/``."""

from __future__ import annotations

import pytest

from envoi.sending.email import services
from envoi.sending.email.models import SendingDomain
from tests.sending.email.dns_server import LoopbackDns, txt_strings
from tests.web.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dns(settings):
    server = LoopbackDns()
    server.start()
    settings.ENVOI_DNS_RESOLVER = f"127.0.0.1:{server.port}"
    settings.ENVOI_BOUNCE_DOMAIN = "bounce.shop.example.com"
    settings.ENVOI_SPF_RELAY = "192.0.2.25"
    settings.ENVOI_BOUNCE_MX = "mx.shop.example.com"
    try:
        yield server.zone
    finally:
        server.stop()


def publish(zone, domain: SendingDomain) -> None:
    """What the page says to publish, into the DNS server."""
    for check in services.describe(domain)["checks"]:
        for line in check["publish"]:
            name, _sep, rest = line.partition(". IN ")
            if rest.startswith("TXT"):
                zone.txt(name, "".join(txt_strings(rest)))
    zone.set("bounce.shop.example.com", "MX", (10, "mx.shop.example.com"))
    zone.set("mx.shop.example.com", "A", "192.0.2.80")


@pytest.mark.parametrize("language", ["ko", "en"])
def test_add_a_domain_create_keys_publish_and_see_it_green(people, dns, language):
    admin = people(f"admin_{language}", "administration", language)
    page = admin.page
    page.get_by_role("link", name=admin.t("Sending domains")).click()
    page.fill("input[name=domain]", "shop.example.com")
    admin.button("Add and check").click()
    page.wait_for_selector("[data-testid=domain-checks]")
    states = page.locator("[data-testid=domain-checks] tbody tr")
    assert states.count() == 4
    assert page.locator("tr[data-state=red]").count() == 4
    dkim_row = page.locator("tr[data-kind=dkim]")
    assert "envoi dkim create shop.example.com" in dkim_row.inner_text()

    page.fill("input[name=selector]", "s1")
    admin.button("Create DKIM keys").click()
    page.wait_for_selector("[data-testid=dkim-keys] code")
    assert page.locator("tr[data-kind=dkim]").count() == 2
    screenshot(page, f"sending-domain-red-{language}")
    assert "v=DKIM1; k=rsa; p=" in page.locator("tr[data-kind=dkim]").first.inner_text()

    publish(dns, SendingDomain.objects.get(domain="shop.example.com"))
    admin.button("Check now").click()
    page.wait_for_selector("tr[data-state=green]")
    assert page.locator("tr[data-state=red]").count() == 0
    assert page.locator("tr[data-state=green]").count() == 5
    screenshot(page, f"sending-domain-green-{language}")
