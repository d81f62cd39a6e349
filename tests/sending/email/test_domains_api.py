"""``/api/v1/sending-domains``: records to publish and live state; no private key out."""

from __future__ import annotations

import pytest

from tests.sending.email.dns_server import LoopbackDns, txt_strings
from tests.support.api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def dns(settings):
    server = LoopbackDns()
    server.start()
    settings.ENVOI_DNS_RESOLVER = f"127.0.0.1:{server.port}"
    settings.ENVOI_BOUNCE_DOMAIN = "bounce.shop.example.com"
    settings.ENVOI_SPF_RELAY = "192.0.2.25"
    settings.ENVOI_BOUNCE_MX = ""
    try:
        yield server.zone
    finally:
        server.stop()


def test_add_create_keys_publish_and_go_green(dns):
    admin = Api("admin", "administration")
    added = admin.ok(admin.post("/sending-domains", {"domain": "Shop.Example.com"}), 201)
    assert added["domain"] == "shop.example.com" and added["ok"] is None
    assert added["checks"] == [] and added["checked_at"] is None
    checked = admin.ok(admin.post("/sending-domains/shop.example.com/check"))
    assert checked["ok"] is False
    assert {c["kind"]: c["problem"] for c in checked["checks"]} == {
        "spf": "spf.missing", "dkim": "dkim.no_keys", "dmarc": "dmarc.missing",
        "return_path": "mx.missing"}
    created = admin.ok(admin.post("/sending-domains/shop.example.com/dkim",
                                  {"selector": "s1"}), 201)
    assert [k["selector"] for k in created["keys"]] == ["s1-rsa", "s1-ed25519"]
    body = str(created)
    assert "PRIVATE" not in body and "private" not in body
    created = admin.ok(admin.post("/sending-domains/shop.example.com/check"))
    for check in created["checks"]:  # publish exactly what the page says
        for line in check["publish"]:
            name, _sep, rest = line.partition(". IN ")
            if rest.startswith("TXT"):
                dns.txt(name, "".join(txt_strings(rest)))
    dns.set("bounce.shop.example.com", "MX", (10, "mx.shop.example.com"))
    dns.set("mx.shop.example.com", "A", "192.0.2.80")
    checked = admin.ok(admin.post("/sending-domains/shop.example.com/check"))
    assert checked["ok"] is True, checked["checks"]
    assert [c["ok"] for c in checked["checks"]] == [True] * 5
    listed = admin.ok(admin.get("/sending-domains"))
    assert [d["domain"] for d in listed] == ["shop.example.com"] and listed[0]["ok"]
    retired = admin.ok(admin.post("/sending-domains/shop.example.com/dkim/s1/retire"))
    assert all(k["retired_at"] for k in retired["keys"])


def test_permissions_and_errors(dns):
    admin = Api("admin", "administration")
    viewer = Api("viewer", "prepare_deliveries")
    importer = Api("importer", "import")
    assert viewer.post("/sending-domains", {"domain": "shop.example.com"}).status_code == 403
    admin.ok(admin.post("/sending-domains", {"domain": "shop.example.com"}), 201)
    viewer.ok(viewer.get("/sending-domains/shop.example.com"))
    assert importer.get("/sending-domains").status_code == 403
    assert viewer.post("/sending-domains/shop.example.com/dkim",
                       {"selector": "s1"}).status_code == 403
    bad = admin.post("/sending-domains", {"domain": "not a domain"})
    assert bad.status_code == 400 and "domain: 'not a domain'" in bad.json()["detail"]
    missing = admin.get("/sending-domains/other.example.com")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "sending domain other.example.com does not exist."
    bad_selector = admin.post("/sending-domains/shop.example.com/dkim", {"selector": "a b"})
    assert bad_selector.status_code == 400 and "selector:" in bad_selector.json()["detail"]
