"""Keyed hashes of erased addresses, computed the same way in Python and in SQL.

An erased address is kept only as ``HMAC-SHA256(key, normalized address)`` with a key
derived from ``ENVOI_SECRET_KEY``: without the key, the list cannot be tested against a
list of known addresses. Preparation compares each targeted profile's address with the
list inside its one classifying statement, so the hash must be an SQL expression:

* PostgreSQL has ``sha256(bytea)`` built in (11+), and HMAC is two nested hashes over
  the key padded and XOR-ed with two constants (RFC 2104), which Python passes in as
  parameters — no extension needed.
* SQLite calls :func:`address_hash` itself, registered on each new connection.

The cost is one HMAC per targeted profile, paid only while the list is not empty.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings

SQLITE_FUNCTION = "envoi_address_hash"
BLOCK = 64  # SHA-256's block size in bytes


def _key() -> bytes:
    return hashlib.sha256(b"envoi erased-address key\x00" + settings.SECRET_KEY.encode()).digest()


def normalize(address: str) -> str:
    return address.strip().lower()


def address_hash(address: str | None) -> str | None:
    """The hex HMAC of a normalized address (None for None: SQL NULL stays NULL)."""
    if address is None:
        return None
    return hmac.new(_key(), normalize(address).encode(), hashlib.sha256).hexdigest()


def sql_expression(column: str, vendor: str) -> tuple[str, list[Any]]:
    """SQL computing :func:`address_hash` of ``column``, and its parameters."""
    if vendor == "postgresql":
        key = _key().ljust(BLOCK, b"\x00")
        inner = bytes(b ^ 0x36 for b in key)
        outer = bytes(b ^ 0x5C for b in key)
        return (f"encode(sha256(%s::bytea || sha256(%s::bytea || "
                f"convert_to(LOWER(TRIM({column})), 'UTF8'))), 'hex')", [outer, inner])
    return f"{SQLITE_FUNCTION}({column})", []


def register_sqlite_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Make :func:`address_hash` callable from SQLite (``connection_created``)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, address_hash,
                                              deterministic=True)
