"""Waking idle workers when a delivery starts sending.

An idle worker looks for work every ``poll_seconds``. On PostgreSQL it also LISTENs:
the move that puts a delivery in progress (confirm, a scheduled start, resume) sends a
NOTIFY, which PostgreSQL delivers when that move commits, to every worker on every
host. A confirmed delivery then starts leaving within milliseconds instead of up to a
poll interval later. The notification only shortens the wait: a worker that misses
one (it was connecting, the database restarted) still finds the work at its next look.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connection

CHANNEL = "envoi_sending"
STOP_SLICE = 0.1  # seconds: how soon a waiting worker notices it is asked to stop


def announce() -> None:
    """Tell the listening workers that a delivery can send (at the commit, on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")


class Waiter:
    """How an idle worker waits: until a NOTIFY, ``stopping`` or ``seconds`` pass."""

    def __init__(self) -> None:
        self.listening_on: Any = None  # the driver connection that LISTENs

    def listen(self) -> bool:
        """LISTEN on the current connection if it does not already; True if it had to
        (a new connection: work announced before it listened went unheard)."""
        if connection.vendor != "postgresql":
            return False
        connection.ensure_connection()
        if connection.connection is self.listening_on:
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        self.listening_on = connection.connection
        return True

    def wait(self, seconds: float, stopping: threading.Event) -> None:
        if stopping.is_set():
            return
        if connection.vendor != "postgresql":
            stopping.wait(seconds)
            return
        with connection.wrap_database_errors:  # as Django's own errors, for the retry
            if self.listen():
                return  # look for work once more before sleeping on the new connection
            deadline = time.monotonic() + seconds
            while not stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                # In slices, so that a SIGTERM is heard within one. The notifications
                # that came while the worker was busy wait in psycopg's backlog: the
                # first of them ends the wait at once, for one more look.
                heard = list(self.listening_on.notifies(timeout=min(left, STOP_SLICE),
                                                        stop_after=1))
                if heard:
                    self.drain()
                    return

    def drain(self) -> None:
        """Forget the other notifications already received: one look serves them all."""
        for _notification in self.listening_on.notifies(timeout=0):
            pass
