"""Sending-domain checks against a real DNS server on loopback: every red and green."""

from __future__ import annotations

import pytest

from envoi.accounts.services import OPERATOR
from envoi.sending.email import domains, keys
from envoi.sending.email.models import DkimKey, SendingDomain
from tests.sending.email.dns_server import LoopbackDns, txt_strings

pytestmark = pytest.mark.django_db

DOMAIN = "shop.example.com"
BOUNCE = "bounce.shop.example.com"


@pytest.fixture
def dns(settings):
    server = LoopbackDns()
    server.start()
    settings.ENVOI_DNS_RESOLVER = f"127.0.0.1:{server.port}"
    settings.ENVOI_BOUNCE_DOMAIN = BOUNCE
    settings.ENVOI_SPF_RELAY = "192.0.2.25 include:_spf.relay.example"
    settings.ENVOI_BOUNCE_MX = "mx.shop.example.com"
    try:
        yield server.zone
    finally:
        server.stop()


@pytest.fixture
def good(dns):
    """Keys created, and every record published as the sending-domain page says."""
    for key in keys.create_keys(OPERATOR, DOMAIN, "s1"):
        dns.txt(keys.key_id(key), "".join(txt_strings(keys.dkim_zone_line(key))))
    dns.txt(BOUNCE, "v=spf1 ip4:192.0.2.0/24 include:_spf.relay.example -all")
    dns.txt("_spf.relay.example", "v=spf1 ip4:198.51.100.0/24 -all")
    dns.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject; rua=mailto:d@shop.example.com")
    dns.set(BOUNCE, "MX", (10, "mx.shop.example.com"))
    dns.set("mx.shop.example.com", "A", "192.0.2.80")
    return dns


def verdicts() -> dict[str, str]:
    """kind (dkim: its selector) -> problem ('' when green), checked now."""
    domain = SendingDomain.objects.get(domain=DOMAIN)
    out = {}
    for check in domains.run_checks(domain):
        selector = check.name.split(".")[0] if "._domainkey." in check.name else ""
        key = f"{check.kind}:{selector}" if selector else check.kind
        out[key] = check.problem
    return out


ALL_GREEN = {"spf": "", "dkim:s1-rsa": "", "dkim:s1-ed25519": "", "dmarc": "",
             "return_path": ""}


def test_all_green(good):
    assert verdicts() == ALL_GREEN
    assert domains.from_domain_problems(DOMAIN) == []
    assert domains.from_domain_problems("unknown.example") is None


def test_messages_name_the_record_and_the_problem(good):
    good.txt(BOUNCE)
    domain = SendingDomain.objects.get(domain=DOMAIN)
    spf = domains.run_checks(domain)[0]
    assert spf.message == f"No SPF record at {BOUNCE}."
    assert spf.publish == [f'{BOUNCE}. IN TXT "v=spf1 ip4:192.0.2.25 '
                           'include:_spf.relay.example -all"']
    stored = domains.stored_checks(SendingDomain.objects.get(domain=DOMAIN))
    assert stored[0].message == spf.message, "kept on the domain for later pages"


@pytest.mark.parametrize(("records", "problem"), [
    ([], "spf.missing"),
    (["v=spf1 ip4:192.0.2.0/24 include:_spf.relay.example -all", "v=spf1 -all"],
     "spf.several"),
    (["v=spf1 ip4:203.0.113.0/24 include:_spf.relay.example -all"], "spf.relay"),
    (["v=spf1 -ip4:192.0.2.25 ip4:192.0.2.0/24 include:_spf.relay.example -all"],
     "spf.relay"),
    (["v=spf1 ip4:192.0.2.0/24 ~all"], "spf.include"),
    (["v=spf1 include:_spf.relay.example a:out.shop.example.com -all"], ""),
    (["v=spf1 mx include:_spf.relay.example -all"], "spf.relay"),
    (["v=spf1 redirect=_spf.shop.example.com"], ""),
    (["v=spf1 include:loop0.example include:_spf.relay.example -all"],
     "spf.too_many_lookups"),
])
def test_spf(good, records, problem):
    good.txt(BOUNCE, *records)
    good.set("out.shop.example.com", "A", "192.0.2.25")
    good.txt("_spf.shop.example.com", "v=spf1 ip4:192.0.2.25 include:_spf.relay.example "
             "-all")
    for hop in range(12):  # an include chain past the ten-lookup limit
        good.txt(f"loop{hop}.example", f"v=spf1 include:loop{hop + 1}.example -all")
    assert verdicts()["spf"] == problem


def test_spf_mx_mechanism_passes_when_the_mx_host_is_the_relay(good):
    good.txt(BOUNCE, "v=spf1 mx include:_spf.relay.example -all")
    good.set("mx.shop.example.com", "A", "192.0.2.25")
    assert verdicts()["spf"] == ""


def test_dkim_states(good):
    rsa_name = f"s1-rsa._domainkey.{DOMAIN}"
    good.txt(rsa_name)
    assert verdicts()["dkim:s1-rsa"] == "dkim.missing"
    good.txt(rsa_name, "v=DKIM1; k=rsa; p=")
    assert verdicts()["dkim:s1-rsa"] == "dkim.revoked"
    other = keys.generate("rsa-sha256").public_key
    good.txt(rsa_name, f"v=DKIM1; k=rsa; p={other}")
    assert verdicts()["dkim:s1-rsa"] == "dkim.other_key"
    DkimKey.objects.update(retired_at="2026-01-01T00:00:00Z")
    assert verdicts()["dkim"] == "dkim.no_keys"


def test_dmarc_states(good, settings):
    dmarc = f"_dmarc.{DOMAIN}"
    good.txt(dmarc)
    assert verdicts()["dmarc"] == "dmarc.missing"
    good.txt("_dmarc.example.com", "v=DMARC1; p=none")  # the organizational domain's
    assert verdicts()["dmarc"] == ""
    good.txt(dmarc, "v=DMARC1; p=none", "v=DMARC1; p=reject")
    assert verdicts()["dmarc"] == "dmarc.several"
    good.txt(dmarc, "v=DMARC1; rua=mailto:x@shop.example.com")
    assert verdicts()["dmarc"] == "dmarc.invalid"
    good.txt(dmarc, "v=DMARC1; p=quarantine; aspf=s")
    assert verdicts()["dmarc"] == "", "aligned through DKIM"
    DkimKey.objects.update(retired_at="2026-01-01T00:00:00Z")
    assert verdicts()["dmarc"] == "dmarc.unaligned", "strict SPF: bounce.* is not shop.*"
    good.txt(dmarc, "v=DMARC1; p=quarantine")
    assert verdicts()["dmarc"] == "", "relaxed SPF alignment: the same organizational domain"
    settings.ENVOI_BOUNCE_DOMAIN = "bounces.esp.example"
    good.txt("bounces.esp.example", "v=spf1 ip4:192.0.2.25 include:_spf.relay.example -all")
    assert verdicts()["dmarc"] == "dmarc.unaligned"


def test_return_path_states(good, settings):
    good.set(BOUNCE, "MX")
    assert verdicts()["return_path"] == "mx.missing"
    good.set(BOUNCE, "MX", (0, "."))
    assert verdicts()["return_path"] == "mx.null"
    good.set(BOUNCE, "MX", (10, "mx2.shop.example.com"))
    assert verdicts()["return_path"] == "mx.no_address"
    good.set("mx2.shop.example.com", "AAAA", "2001:db8::25")
    assert verdicts()["return_path"] == "mx.other_host"
    settings.ENVOI_BOUNCE_MX = ""
    assert verdicts()["return_path"] == ""


def test_a_resolver_that_does_not_answer_is_red_and_says_so(good, settings, monkeypatch):
    from tests.support.smtpd import free_port

    monkeypatch.setattr(domains, "TIMEOUT_SECONDS", 0.3)
    settings.ENVOI_DNS_RESOLVER = f"127.0.0.1:{free_port()}"
    result = verdicts()
    assert set(result.values()) == {"resolver"}
    check = domains.stored_checks(SendingDomain.objects.get(domain=DOMAIN))[0]
    assert check.message.startswith(f"The resolver gave no answer for {BOUNCE}:")


def test_preparation_warns_in_yellow_when_the_from_domain_fails(good):
    from tests.support.deliveries import delivery_in

    delivery = delivery_in("pending_approval")  # sent from news@shop.example.com
    assert not delivery.preparation_messages.filter(code="sending_domain.checks").exists()
    good.txt(f"_dmarc.{DOMAIN}")
    SendingDomain.objects.update(checked_at=None)  # the checks are asked again
    delivery = delivery_in("pending_approval", label="Second")
    finding = delivery.preparation_messages.get(code="sending_domain.checks")
    assert finding.level == "warning" and finding.field == "sender"
    assert finding.message == ("The DNS checks of the sending domain shop.example.com fail: "
                               "No DMARC record at _dmarc.shop.example.com.")


@pytest.mark.parametrize(("configured", "expected"), [
    ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("[::1]:5353", ("::1", 5353)),
    ("::1", ("::1", 53)), ("10.0.0.53", ("10.0.0.53", 53)), ("[::1]", ("::1", 53)),
])
def test_resolver_setting(configured, expected):
    assert domains._host_port(configured) == expected
