"""Running real ``envoi`` processes against this test's database."""

from __future__ import annotations

from django.db import connection


def database_url() -> str:
    """``ENVOI_DATABASE_URL`` of the test database, for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}")
