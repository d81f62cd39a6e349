"""Who may read ``/metrics``: a client whose address is in ``ENVOI_METRICS_ALLOW``
(loopback by default), or a bearer token of a user whose roles allow ``metrics.view``.

Behind a reverse proxy on loopback, uvicorn puts the client's address from
``X-Forwarded-For`` in its place; a proxy that does not send that header makes every
client look local, so the proxy blocks ``/metrics`` too (docs/OPERATIONS.md).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

DEFAULT_ALLOW = "127.0.0.0/8 ::1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_allow(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.168.1.5 ::1"`` → networks; a bad entry is an error naming it."""
    networks = []
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"ENVOI_METRICS_ALLOW: {entry!r} is not an address or a "
                             "network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def address_allowed(address: str | None) -> bool:
    try:
        client = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped
    return any(client in network for network in parse_allow(settings.ENVOI_METRICS_ALLOW))


def token_allowed(authorization: str | None) -> bool:
    from envoi.accounts.services import can, user_for_token

    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    user = user_for_token(token.strip())
    return user is not None and can(user, "metrics.view")


def may_read_metrics(address: str | None, authorization: str | None) -> bool:
    return address_allowed(address) or token_allowed(authorization)
