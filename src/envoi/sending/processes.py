"""``envoi worker --processes N``: one command that keeps N worker processes running.

Rendering and MIME building are CPU work under Python's GIL, so one process uses one
core; N processes use N (``docs/BENCHMARKS.md`` measures 1 against 2). The processes
share nothing but the database, exactly like workers on different hosts. SIGTERM or
SIGINT is passed on to every process, each of which drains (finishes and records its
batch) and exits; a process that dies otherwise is started again.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

log = logging.getLogger("envoi.worker")


def run_processes(count: int, worker_args: list[str], *, restart: bool = True) -> int:
    """Run ``count`` ``envoi worker`` processes; the worst exit code once all are done."""
    command = [sys.executable, "-m", "envoi", "worker", *worker_args]
    children = [subprocess.Popen(command) for _ in range(count)]
    stopping = False

    def pass_on(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    codes: dict[int, int] = {}
    while len(codes) < len(children):
        for index, child in enumerate(children):
            code = child.poll()
            if code is None or index in codes:
                continue
            if code != 0 and restart and not stopping:
                log.warning("worker process %s exited with %s; starting another",
                            child.pid, code)
                children[index] = subprocess.Popen(command)
                continue
            # A process stopped by the signal passed on before it could install its
            # handler was still starting: it had nothing in flight.
            codes[index] = 0 if stopping and code < 0 else code
        time.sleep(0.2)
    return max(codes.values())
