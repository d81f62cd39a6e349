"""The operators' services; the console and the CLI are faces over them."""

from __future__ import annotations

from envoi.accounts.services import Actor, require
from envoi.ops import queries
from envoi.ops.queries import WorkerView


def list_workers(user: Actor, *, check_role: bool = True) -> list[WorkerView]:
    """The workers that wrote a heartbeat; ``envoi workers`` (run by the operator on the
    host, like ``envoi migrate``) passes ``check_role=False``."""
    if check_role:
        require(user, "workers.view")
    return queries.workers()
