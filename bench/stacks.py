"""Summarize py-spy's collapsed stacks (``py-spy record --format raw``): where time goes.

    .venv/bin/python bench/stacks.py FILE [FILE ...] [--top 25] [--match envoi]

Prints, per function, its *self* share (samples where it is the innermost frame) and
its *inclusive* share (samples where it is anywhere on the stack, counted once).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def frame_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="inclusive list: only frames containing this")
    parser.add_argument("--within", default="",
                        help="only stacks with a frame containing this (e.g. 'Worker.run (' "
                             "for the worker's main thread); shares are of those stacks")
    args = parser.parse_args()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in args.files:
        with open(path) as stacks:
            for line in stacks:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack:
                    continue
                samples = int(count)
                frames = [frame_name(f) for f in stack.split(";")]
                if args.within and not any(args.within in f for f in frames):
                    continue
                total += samples
                own[frames[-1]] += samples
                for name in set(frames):
                    inclusive[name] += samples
    print(f"# {total} samples")
    print("# self %   function")
    for name, samples in own.most_common(args.top):
        print(f"  {100 * samples / total:6.1f}   {name}")
    print("# inclusive %   function")
    shown = [(n, s) for n, s in inclusive.most_common() if args.match in n][: args.top]
    for name, samples in shown:
        print(f"  {100 * samples / total:6.1f}   {name}")


if __name__ == "__main__":
    main()
