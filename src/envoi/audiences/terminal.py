"""A progress bar for imports run in a terminal (``envoi profiles import``).

Drawn on stderr only when it is a terminal, redrawn at most five times a second, so a
piped or logged run prints nothing extra and a million-row import costs no time here.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

WIDTH = 30


def count_data_lines(path: str) -> int:
    """Lines after the header, counted in 1 MiB blocks (a million rows take ~0.1 s); a
    quoted cell with line breaks makes it an overestimate, which the bar forgives."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


class ProgressBar:
    def __init__(self, total: int, stream: IO[str] | None = None,
                 clock: Any = time.monotonic) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.clock = clock
        self.enabled = self.stream.isatty()
        self.shown_at = float("-inf")

    def __call__(self, done: int) -> None:
        if not self.enabled or self.clock() - self.shown_at < 0.2:
            return
        self.shown_at = self.clock()
        self.draw(done)

    def draw(self, done: int) -> None:
        share = min(1.0, done / self.total) if self.total else 1.0
        filled = int(share * WIDTH)
        self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
                          f"{done:,}/{self.total:,} rows")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.draw(self.total)
            self.stream.write("\n")
            self.stream.flush()
