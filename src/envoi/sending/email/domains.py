"""Sending domains: the DNS records a From domain needs, and whether they are live.

Four checks, each green or red with the exact problem and the record to publish:

* **SPF** of the return-path domain (``ENVOI_BOUNCE_DOMAIN``: receivers evaluate SPF
  on the envelope sender, not on From) authorizes the relay: each address of
  ``ENVOI_SPF_RELAY`` passes the policy, and each ``include:`` it names is reached.
* **DKIM**: each active selector's TXT record holds the public key Envoi signs with.
* **DMARC** at ``_dmarc.DOMAIN`` (or the organizational domain) is valid, and mail
  aligns with it: through the DKIM signature (``d=`` is the From domain) or through
  the return-path domain (same organizational domain, or the same domain under
  ``aspf=s``).
* **Return path**: the return-path domain has an MX whose hosts have addresses (and,
  with ``ENVOI_BOUNCE_MX``, is that host), so bounces come back to Envoi.

Lookups go to ``ENVOI_DNS_RESOLVER`` (``host:port``), or the system's resolver. The
organizational domain is the registered name under a public suffix, from a short list
of the multi-label suffixes senders here use (co.kr, co.jp, …): no suffix list is
downloaded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import dns.exception
import dns.resolver
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from envoi.config import relays_from_url
from envoi.sending.email.keys import dkim_zone_line, key_id, record_value, zone_line
from envoi.sending.email.models import SendingDomain

SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4
TIMEOUT_SECONDS = 3.0
CHECKS_VALID_FOR = timedelta(minutes=10)
"""Preparation reuses a domain's checks this long instead of asking the DNS again."""
_TWO_LABEL_SUFFIXES = frozenset({
    "co.kr", "or.kr", "ne.kr", "go.kr", "ac.kr", "re.kr", "pe.kr",
    "co.jp", "or.jp", "ne.jp", "go.jp", "ac.jp", "ad.jp", "ed.jp", "gr.jp", "lg.jp",
    "co.uk", "org.uk", "ac.uk", "com.au", "net.au", "org.au", "com.cn", "com.tw",
    "com.hk", "com.sg", "co.nz", "com.br",
})

PROBLEMS = {
    "resolver": _("The resolver gave no answer for %(name)s: %(error)s"),
    "spf.missing": _("No SPF record at %(name)s."),
    "spf.several": _("%(name)s has %(count)s SPF records; receivers then reject SPF "
                     "(permerror): merge them into one."),
    "spf.relay": _("The SPF record at %(name)s does not authorize the relay's address "
                   "%(relay)s."),
    "spf.include": _("The SPF record at %(name)s does not include %(relay)s."),
    "spf.too_many_lookups": _("The SPF record at %(name)s needs more than 10 DNS lookups "
                              "(permerror)."),
    "dkim.no_keys": _("Envoi has no DKIM key for %(name)s: create one "
                      "(envoi dkim create %(name)s --selector S)."),
    "dkim.missing": _("No DKIM record at %(name)s."),
    "dkim.revoked": _("The DKIM record at %(name)s is revoked (empty p=)."),
    "dkim.other_key": _("The DKIM record at %(name)s holds another key than the one Envoi "
                        "signs with: publish the record below."),
    "dmarc.missing": _("No DMARC record at %(name)s."),
    "dmarc.several": _("%(name)s has %(count)s DMARC records; receivers ignore them all."),
    "dmarc.invalid": _("The DMARC record at %(name)s has no policy (p=)."),
    "dmarc.unaligned": _("DMARC fails: messages are not DKIM-signed for %(domain)s, and "
                         "the return-path domain %(return_domain)s is not aligned with it."),
    "mx.missing": _("No MX record for the return-path domain %(name)s: bounces cannot "
                    "reach Envoi."),
    "mx.null": _("The return-path domain %(name)s has a null MX: it takes no mail, so "
                 "bounces are lost."),
    "mx.no_address": _("The MX host %(host)s of %(name)s has no address."),
    "mx.other_host": _("The MX of %(name)s is %(hosts)s, not the bounce host %(host)s."),
}

NOTES = {
    "spf.loopback": _("The relay is on loopback: no address to check against SPF."),
    "dmarc.aligned": _("p=%(policy)s; aligned through %(ways)s"),
}


@dataclass
class Check:
    """One check's verdict: ``problem`` is a key of :data:`PROBLEMS` ('' when green)."""

    kind: str  # spf, dkim, dmarc, return_path
    name: str  # the DNS name looked at
    found: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)  # zone-file lines
    problem: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # what was found, when green: a key of NOTES, or text as found
    note_params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def message(self) -> str:
        """The problem, in the active language."""
        return str(PROBLEMS[self.problem]) % self.params if self.problem else ""

    @property
    def note_text(self) -> str:
        return str(NOTES[self.note]) % self.note_params if self.note in NOTES else self.note


# -- DNS -------------------------------------------------------------------------------


class LookupFailed(Exception):
    """The resolver did not answer (as opposed to: the record does not exist)."""


def resolver() -> dns.resolver.Resolver:
    """``ENVOI_DNS_RESOLVER`` (``host``, ``host:port`` or ``[v6]:port``), or the
    system's resolver."""
    configured = getattr(settings, "ENVOI_DNS_RESOLVER", "").strip()
    if not configured:
        made = dns.resolver.Resolver()
    else:
        made = dns.resolver.Resolver(configure=False)
        host, port = _host_port(configured)
        made.nameservers = [host]
        made.port = port
    made.lifetime = TIMEOUT_SECONDS
    return made


def _host_port(value: str) -> tuple[str, int]:
    if value.startswith("["):
        host, _sep, port = value[1:].partition("]")
        return host, int(port.lstrip(":") or 53)
    if value.count(":") == 1:
        host, _sep, port = value.partition(":")
        return host, int(port or 53)
    return value, 53  # a bare address, IPv6 included


class Dns:
    """The lookups of one check run, each asked once."""

    def __init__(self) -> None:
        self.resolver = resolver()
        self.answers: dict[tuple[str, str], list[str]] = {}
        self.failed: LookupFailed | None = None

    def query(self, name: str, rdtype: str) -> list[str]:
        """The records' texts (TXT strings joined); [] when there are none. Once the
        resolver failed to answer, the run's later lookups fail at once: a resolver
        that is down costs one timeout, not one per record."""
        if self.failed is not None:
            raise self.failed
        key = (name.lower().rstrip("."), rdtype)
        if key not in self.answers:
            try:
                self.answers[key] = self._ask(key[0], rdtype)
            except LookupFailed as error:
                self.failed = error
                raise
        return self.answers[key]

    def _ask(self, name: str, rdtype: str) -> list[str]:
        try:
            answer = self.resolver.resolve(name + ".", rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
            raise LookupFailed(f"{name} {rdtype}: {error}") from error
        if rdtype == "TXT":
            return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
        if rdtype == "MX":
            return [f"{rdata.preference} {rdata.exchange.to_text().rstrip('.') or '.'}"
                    for rdata in answer]  # "." alone: a null MX (RFC 7505)
        return [rdata.to_text() for rdata in answer]

    def txt(self, name: str, prefix: str) -> list[str]:
        return [text for text in self.query(name, "TXT")
                if text.lower().startswith(prefix.lower())
                and text[len(prefix):len(prefix) + 1] in ("", " ", ";")]

    def addresses(self, host: str) -> list[str]:
        return self.query(host, "A") + self.query(host, "AAAA")


def organizational_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    size = 3 if ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-size:])


# -- the checks ------------------------------------------------------------------------


def return_path_domain() -> str:
    return settings.ENVOI_BOUNCE_DOMAIN.lower()


def spf_relay_terms() -> list[str]:
    """What the SPF policy must authorize: ``ENVOI_SPF_RELAY``, or the addresses of
    the relay hosts in ``ENVOI_SMTP_URL`` that are not loopback."""
    configured = getattr(settings, "ENVOI_SPF_RELAY", "").split()
    if configured:
        return configured
    terms = []
    for relay in relays_from_url(settings.ENVOI_SMTP_URL):
        try:
            if not ipaddress.ip_address(relay.host).is_loopback:
                terms.append(relay.host)
        except ValueError:
            terms.append(f"a:{relay.host}")
    return terms


def check_spf(lookups: Dns) -> Check:
    name = return_path_domain()
    terms = spf_relay_terms()
    mechanisms = " ".join(_spf_mechanism(term) for term in terms) or "include:RELAY-SPF-DOMAIN"
    check = Check("spf", name, publish=[zone_line(name, f"v=spf1 {mechanisms} -all")])
    records = lookups.txt(name, "v=spf1")
    check.found = records
    if not records:
        return _failed(check, "spf.missing")
    if len(records) > 1:
        return _failed(check, "spf.several", count=len(records))
    evaluator = SpfEvaluator(lookups)
    for term in terms:
        try:
            if term.startswith("include:"):
                if not evaluator.includes(name, term.split(":", 1)[1].lower()):
                    return _failed(check, "spf.include", relay=term.split(":", 1)[1])
                continue
            for address in _term_addresses(lookups, term):
                if not evaluator.passes(name, ipaddress.ip_address(address)):
                    return _failed(check, "spf.relay", relay=address)
        except SpfLookupLimit:
            return _failed(check, "spf.too_many_lookups")
    check.note = " ".join(terms) if terms else "spf.loopback"
    return check


def _spf_mechanism(term: str) -> str:
    if term.startswith(("include:", "a:")):
        return term
    version = ipaddress.ip_address(term).version
    return f"ip{version}:{term}"


def _term_addresses(lookups: Dns, term: str) -> list[str]:
    if term.startswith("a:"):
        return lookups.addresses(term[2:])
    return [term]


class SpfLookupLimit(Exception):
    pass


class SpfEvaluator:
    """Enough of RFC 7208 to say whether an address passes a domain's policy:
    ip4, ip6, a, mx, include, redirect and all, with their qualifiers, under the
    ten-lookup limit. Macros and ``exists`` count as not matching."""

    def __init__(self, lookups: Dns):
        self.lookups = lookups
        self.count = 0

    def _record(self, domain: str) -> list[str]:
        self.count += 1
        if self.count > SPF_LOOKUP_LIMIT + 1:  # the first record is not a lookup
            raise SpfLookupLimit
        records = self.lookups.txt(domain, "v=spf1")
        return records[0].split()[1:] if len(records) == 1 else []

    def passes(self, domain: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
               ) -> bool:
        self.count = 0
        return self._result(domain, address) == "+"

    def _result(self, domain: str, address: Any) -> str | None:
        redirect = None
        for term in self._record(domain):
            qualifier, mechanism = (term[0], term[1:]) if term[0] in "+-~?" else ("+", term)
            if mechanism.startswith("redirect="):
                redirect = mechanism.split("=", 1)[1]
                continue
            if self._matches(domain, mechanism, address):
                return qualifier
        return self._result(redirect, address) if redirect else None

    def _matches(self, domain: str, mechanism: str, address: Any) -> bool:
        kind, _sep, value = mechanism.partition(":")
        kind, _slash, prefix = kind.partition("/")
        if kind == "all":
            return True
        if kind in ("ip4", "ip6"):
            try:
                return address in ipaddress.ip_network(value, strict=False)
            except ValueError:
                return False
        if kind == "include":
            return self._result(value, address) == "+"
        if kind == "a":
            return self._host_matches(value or domain, address)
        if kind == "mx":
            hosts = [mx.split()[1] for mx in self.lookups.query(value or domain, "MX")]
            return any(self._host_matches(host, address) for host in hosts)
        return False

    def _host_matches(self, host: str, address: Any) -> bool:
        self.count += 1
        return str(address) in self.lookups.addresses(host)

    def includes(self, domain: str, included: str, depth: int = 0) -> bool:
        """Whether ``domain``'s policy includes (or redirects to) ``included``."""
        if depth > SPF_LOOKUP_LIMIT:
            raise SpfLookupLimit
        records = self.lookups.txt(domain, "v=spf1")
        for term in records[0].split()[1:] if len(records) == 1 else []:
            mechanism = term.lstrip("+~?-")
            for marker in ("include:", "redirect="):
                if mechanism.startswith(marker):
                    target = mechanism[len(marker):].lower()
                    if target == included or self.includes(target, included, depth + 1):
                        return True
        return False


def check_dkim(domain: SendingDomain, lookups: Dns) -> Iterator[Check]:
    keys = list(domain.keys.filter(retired_at__isnull=True))
    if not keys:
        yield _failed(Check("dkim", domain.domain), "dkim.no_keys", name=domain.domain)
        return
    for key in keys:
        name = key_id(key)
        check = Check("dkim", name, publish=[dkim_zone_line(key)])
        check.found = [text for text in lookups.query(name, "TXT") if "p=" in text]
        published = [_tags(text).get("p", None) for text in check.found]
        if not check.found:
            yield _failed(check, "dkim.missing")
        elif key.public_key in [p.replace(" ", "") for p in published if p is not None]:
            check.note = record_value(key)[:40] + "…"
            yield check
        elif "" in published:
            yield _failed(check, "dkim.revoked")
        else:
            yield _failed(check, "dkim.other_key")


def check_dmarc(domain: SendingDomain, lookups: Dns, signed: bool) -> Check:
    name = f"_dmarc.{domain.domain}"
    check = Check("dmarc", name, publish=[zone_line(
        name, f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain.domain}")])
    records = lookups.txt(name, "v=DMARC1")
    organizational = organizational_domain(domain.domain)
    if not records and organizational != domain.domain:
        records = lookups.txt(f"_dmarc.{organizational}", "v=DMARC1")
    check.found = records
    if not records:
        return _failed(check, "dmarc.missing")
    if len(records) > 1:
        return _failed(check, "dmarc.several", count=len(records))
    tags = _tags(records[0])
    if tags.get("p", "").lower() not in ("none", "quarantine", "reject"):
        return _failed(check, "dmarc.invalid")
    return_domain = return_path_domain()
    spf_aligned = (return_domain == domain.domain if tags.get("aspf", "r").lower() == "s"
                   else organizational_domain(return_domain) == organizational)
    ways = [way for way, aligned in (("DKIM", signed), ("SPF", spf_aligned)) if aligned]
    if not ways:
        return _failed(check, "dmarc.unaligned", domain=domain.domain,
                       return_domain=return_domain)
    check.note = "dmarc.aligned"
    check.note_params = {"policy": tags["p"], "ways": " + ".join(ways)}
    return check


def check_return_path(lookups: Dns) -> Check:
    name = return_path_domain()
    bounce_host = getattr(settings, "ENVOI_BOUNCE_MX", "").lower().rstrip(".")
    check = Check("return_path", name, publish=[
        f"{name}. IN MX 10 {bounce_host or 'BOUNCE-HOST'}."])
    exchanges = lookups.query(name, "MX")
    check.found = exchanges
    if not exchanges:
        return _failed(check, "mx.missing")
    hosts = [mx.split()[1].lower() for mx in exchanges]
    if hosts == ["."]:
        return _failed(check, "mx.null")
    for host in hosts:
        if not lookups.addresses(host):
            return _failed(check, "mx.no_address", host=host)
    if bounce_host and bounce_host not in hosts:
        return _failed(check, "mx.other_host", hosts=", ".join(hosts), host=bounce_host)
    check.note = ", ".join(hosts)
    return check


def _failed(check: Check, problem: str, **params: Any) -> Check:
    check.problem = problem
    check.params = {"name": check.name, **params}
    return check


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        tag, sep, value = part.partition("=")
        if sep:
            tags[tag.strip().lower()] = value.strip()
    return tags


# -- reports ---------------------------------------------------------------------------


def run_checks(domain: SendingDomain) -> list[Check]:
    """Every check of ``domain``, asked of the DNS now, and kept on the domain."""
    lookups = Dns()
    spf = _guarded("spf", return_path_domain(), lambda: [check_spf(lookups)])
    dkim = _guarded("dkim", domain.domain, lambda: list(check_dkim(domain, lookups)))
    signed = any(check.ok for check in dkim)  # a verifiable signature aligns with From
    dmarc = _guarded("dmarc", f"_dmarc.{domain.domain}",
                     lambda: [check_dmarc(domain, lookups, signed)])
    return_path = _guarded("return_path", return_path_domain(),
                           lambda: [check_return_path(lookups)])
    checks = spf + dkim + dmarc + return_path
    domain.checks = [asdict(check) for check in checks]
    domain.checked_at = timezone.now()
    domain.save(update_fields=["checks", "checked_at"])
    return checks


def _guarded(kind: str, name: str, run: Callable[[], list[Check]]) -> list[Check]:
    """The checks ``run`` makes; one red check naming the resolver when it failed."""
    try:
        return run()
    except LookupFailed as error:
        return [_failed(Check(kind, name), "resolver", error=str(error))]


def stored_checks(domain: SendingDomain) -> list[Check]:
    return [Check(**stored) for stored in domain.checks or []]


def current_checks(domain: SendingDomain, max_age: timedelta = CHECKS_VALID_FOR,
                   ) -> list[Check]:
    """The domain's checks, asked again when older than ``max_age``."""
    if domain.checked_at is None or timezone.now() - domain.checked_at > max_age:
        return run_checks(domain)
    return stored_checks(domain)


def from_domain_problems(sender_domain: str) -> list[Check] | None:
    """The failed checks of a From domain, for preparation (``None``: the domain is not a
    sending domain, so nothing is known of it). The ``bulk_sender`` rule set calls this
    and treats ``None`` or any failed check as an error."""
    domain = SendingDomain.objects.filter(domain=sender_domain.lower()).first()
    if domain is None:
        return None
    return [check for check in current_checks(domain) if not check.ok]
