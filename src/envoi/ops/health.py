"""Liveness and readiness, shared by ``envoi serve`` and ``envoi worker --health-port``.

Ready means: the database answers, and every migration this code knows is applied.
The list of migrations is read from disk once per process (the code cannot change
under a running process); each check then costs one small query.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str


@functools.cache
def known_migrations() -> frozenset[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    replaced = {key for migration in loader.disk_migrations.values()
                for key in migration.replaces}
    return frozenset(set(loader.disk_migrations) - replaced)


def unapplied_migrations() -> list[str]:
    applied = set(MigrationRecorder(connection).applied_migrations())
    return sorted(f"{app}.{name}" for app, name in known_migrations() - applied)


def readiness() -> Readiness:
    try:
        missing = unapplied_migrations()
    except DatabaseError as error:
        return Readiness(False, f"database unreachable: {one_line(error)[:200]}")
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        return Readiness(False, f"{len(missing)} migrations not applied: {shown}")
    return Readiness(True, "ready")


def one_line(error: Exception) -> str:
    """A driver's message, which may span lines, on one line."""
    return " ".join(str(error).split())
