"""A real DNS server on loopback (dnslib), serving the records a test writes."""

from __future__ import annotations

import re

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from tests.support.smtpd import free_port


def txt_strings(zone_line: str) -> list[str]:
    """The quoted strings of a ``NAME IN TXT "…" "…"`` line."""
    return re.findall(r'"([^"]*)"', zone_line)


class Zone(BaseResolver):
    """Answers from ``records``: (name, type) -> rdata; NXDOMAIN for unknown names."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list] = {}

    def set(self, name: str, rdtype: str, *values: str | tuple[int, str]) -> None:
        key = (name.lower().rstrip("."), rdtype)
        if not values:
            self.records.pop(key, None)
            return
        self.records[key] = [self._rdata(rdtype, value) for value in values]

    def txt(self, name: str, *texts: str) -> None:
        self.set(name, "TXT", *texts)

    @staticmethod
    def _rdata(rdtype: str, value):
        if rdtype == "TXT":
            chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
            return TXT(chunks)
        if rdtype == "MX":
            preference, host = value
            return MX(host, preference)
        return {"A": A, "AAAA": AAAA}[rdtype](value)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        rdtype = QTYPE[request.q.qtype]
        for rdata in self.records.get((name, rdtype), []):
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        if not any(known == name for known, _type in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LoopbackDns:
    """UDP and TCP on one loopback port, each in its thread."""

    def __init__(self) -> None:
        self.zone = Zone()
        self.port = free_port()
        logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data",
                           prefix=False)
        self.servers = [DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=tcp,
                                  logger=logger) for tcp in (False, True)]

    def start(self) -> None:
        for server in self.servers:
            server.start_thread()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()
