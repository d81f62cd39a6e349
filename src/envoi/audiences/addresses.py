"""What Envoi accepts as an email address: the one syntax check, shared by the importer
(which refuses a malformed address with its line) and preparation (which excludes one
stored before with the reason "address invalid")."""

from __future__ import annotations

import re

# A pragmatic address syntax check, also evaluated by the database (PostgreSQL `~`, SQLite
# REGEXP through Django's registered function). Internationalized addresses are refused.
ADDRESS_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_ADDRESS = re.compile(ADDRESS_PATTERN)


def is_address(text: str) -> bool:
    return _ADDRESS.match(text) is not None
