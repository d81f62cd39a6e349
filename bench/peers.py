"""Envoi against django-post_office, in one run, on the same machine and content.

    .venv/bin/python bench/peers.py [--recipients 20000] [--workers 2]

Runs, one after the other:

1. ``bench/send.py``: Envoi's real workers (PostgreSQL) into Postfix's ``smtp-sink``,
   followed by ``smtp-source -d -s 16`` into the same sink (the raw limit). The workers
   are running when the delivery is confirmed, as post_office's are forked from a
   process that has already loaded Django: neither side's start-up is timed
   (``--cold-start`` times Envoi's);
2. the peer harness ``../shared/peers/post_office/run.sh`` with ``DB=postgres``: its own
   ``smtp-sink``, ``smtp-source`` raw limit, then post_office's documented
   ``send_queued_mail --processes 2`` on the same campaign (20 KB Korean HTML with 45
   links, personalized subject).

Both sides verify every message reached the sink exactly once. Envoi does more per
message (45 tracked links and an open pixel, a VERP return path, List-Unsubscribe with
one-click): the comparison does not favour it. The last line is the comparable result.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE.parent.parent / "shared" / "peers" / "post_office"
ENVOI_LINE = re.compile(r"= (\d+) msg/s .*smtp-source -d -s 16: (\d+) msg/s")
PEER_LINE = re.compile(r"post_office: \d+ sent in [\d.]+ s = ([\d.]+) msg/s")
RAW_LINE = re.compile(r"raw smtp-source: ([\d.]+) msg/s")
SEND_ONLY = re.compile(r"send-only rate ([\d.]+) msg/s")
PREPARE = re.compile(r"# prepare: ([\d.]+) s")


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    print(f"# $ {' '.join(command)}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    for line in done.stdout.splitlines():
        print(line if line.startswith("#") else f"# {line}", flush=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{command[0]} exited {done.returncode}")
    # The peer harness writes its detail lines (the send-only rate) to stderr.
    details = [line for line in done.stderr.splitlines() if line.startswith("#")]
    for line in details:
        print(line, flush=True)
    return done.stdout + "\n".join(details)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-start", action="store_true",
                        help="time Envoi's worker start-up too (bench/send.py --cold-start)")
    args = parser.parse_args()
    if not (PEER / "run.sh").exists():
        raise SystemExit(f"peer harness not found at {PEER}")

    envoi_out = run([sys.executable, str(HERE / "send.py"), "--recipients",
                     str(args.recipients), "--workers", str(args.workers),
                     *(["--cold-start"] if args.cold_start else [])])
    envoi = ENVOI_LINE.search(envoi_out)
    run(["bash", str(PEER / "setup.sh")])
    peer_env = dict(os.environ, N=str(args.recipients), DB="postgres")
    peer_out = run(["bash", str(PEER / "run.sh")], env=peer_env)
    peer, raw = PEER_LINE.search(peer_out), RAW_LINE.search(peer_out)
    if not (envoi and peer and raw):
        raise SystemExit("could not read the result lines (see the # lines above)")
    envoi_rate, envoi_raw = float(envoi.group(1)), float(envoi.group(2))
    peer_rate, peer_raw = float(peer.group(1)), float(raw.group(1))
    send_only, prepare = SEND_ONLY.search(peer_out), PREPARE.search(envoi_out)
    if send_only and prepare:
        # The peer's rate counts its queueing; Envoi's preparation comes before approval.
        with_prepare = args.recipients / (args.recipients / envoi_rate + float(prepare.group(1)))
        print(f"# post_office without its queueing: {float(send_only.group(1)):.0f} msg/s "
              f"(envoi/post_office {envoi_rate / float(send_only.group(1)):.1f}x); envoi "
              f"with its preparation: {with_prepare:.0f} msg/s "
              f"(envoi/post_office {with_prepare / peer_rate:.1f}x)", flush=True)
    print(f"peers: {args.recipients} msgs on postgresql: envoi {envoi_rate:.0f} msg/s "
          f"({args.workers} workers, {envoi_rate / envoi_raw:.2f} of smtp-source "
          f"{envoi_raw:.0f}), post_office {peer_rate:.0f} msg/s ({peer_rate / peer_raw:.2f} "
          f"of smtp-source {peer_raw:.0f}); envoi/post_office {envoi_rate / peer_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
