"""Click-redirect benchmark: ``wrk`` against ``envoi serve`` in the production shape.

    .venv/bin/python bench/tracking.py [--messages 10000] [--server-workers 2] [--seconds 15]

Prepares a delivery of the benchmark newsletter (45 tracked links) to N profiles on
PostgreSQL and marks its rows sent; renders every message through the real renderer and
takes one click link from each, so every request names a different message; starts
``envoi serve`` as deployed (uvicorn, ``--workers``), and points ``wrk`` at those links.
After SIGTERM (the server's normal stop), it counts the click events stored: every
redirect wrk saw answered must be in the tracking log.

With ``--during-send``, a second delivery to the same profiles is confirmed once the
server is warm, and ``--send-workers`` real ``envoi worker`` processes send it into
Postfix's ``smtp-sink`` while wrk runs: the redirects' rate and latency while a send
shares the machine, and the send's own rate in the same window.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import common
from common import note
from send import Sink, prepared_delivery, seed_profiles, start_workers, wait_workers

BENCH = Path(__file__).resolve().parent
WRK = "wrk"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def click_paths(delivery, base_url: str) -> list[str]:
    """One click link (path only) from each rendered message, chosen at random."""
    from envoi.audiences.models import Profile
    from envoi.sending.models import SendingLog
    from envoi.sending.render import DeliveryRenderer

    renderer = DeliveryRenderer(delivery)
    rows = list(SendingLog.objects.filter(delivery=delivery).values_list(
        "id", "address", "profile_id"))
    profiles = {p["id"]: p for p in Profile.objects.filter(
        pk__in=[r[2] for r in rows]).values()}
    pattern = re.compile(re.escape(base_url) + r'(/c/[^"]+)"')
    paths = []
    for row_id, address, profile_id in rows:
        html = renderer.render(row_id, address, profiles[profile_id]).data
        links = pattern.findall(html_of(html))
        paths.append(random.choice(links))
    return paths


def html_of(raw: bytes) -> str:
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def mark_sent(delivery) -> None:
    """Pretend the delivery went out an hour ago: tracking needs no relay."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE deliveries_delivery SET status = 'finished' WHERE id = %s",
                       [delivery.pk])
        cursor.execute("UPDATE sending_sendinglog SET status = 'sent', "
                       "sent_at = NOW() - INTERVAL '1 hour' WHERE delivery_id = %s",
                       [delivery.pk])


def start_server(port: int, workers: int) -> subprocess.Popen:
    envoi = Path(sys.executable).with_name("envoi")
    server = subprocess.Popen([str(envoi), "serve", "--port", str(port),
                               "--workers", str(workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    common.fail("envoi serve did not start: " + (server.stderr.read() if server.stderr else ""))
    raise SystemExit(1)


def run_wrk(port: int, paths_file: Path, seconds: int, connections: int,
            rate: int, show: bool = True) -> dict:
    """Closed loop at full speed, or, with ``rate``, each connection pacing its requests so
    that together they offer about ``rate`` requests a second."""
    delay_ms = int(connections * 1000 / rate) if rate else 0
    output = subprocess.run(
        [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(BENCH / "wrk_paths.lua"), f"http://127.0.0.1:{port}", "--",
         str(paths_file), str(delay_ms)],
        capture_output=True, text=True, check=True).stdout
    for line in output.splitlines() if show else []:
        note("wrk: " + line)
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else 0.0

    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests": int(number(r"(\d+) requests in")),
        "rate": number(r"Requests/sec:\s+([\d.]+)"),
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else 0.0,
        "errors": int(number(r"Non-2xx or 3xx responses: (\d+)"))
        + int(sum(map(int, re.findall(r"(?:connect|read|write|timeout) (\d+)", output)))),
    }


def stored_clicks(delivery_id: int) -> int:
    from envoi.tracking.models import TrackingEvent

    return TrackingEvent.objects.filter(delivery_id=delivery_id, kind="click").count()


class SendAlongside:
    """A second delivery sent by real workers while wrk runs (``--during-send``)."""

    def __init__(self, user, count: int, workers: int, sink_port: int, log_dir: str):
        self.delivery = prepared_delivery(user, count, label="Autumn sale")
        self.user, self.count, self.sink_port, self.log_dir = user, count, sink_port, log_dir
        self.options = argparse.Namespace(workers=workers, profile=None, py_spy=None)
        self.runs: list = []
        self.window: tuple[dt.datetime, dt.datetime] | None = None

    def start(self) -> None:
        from django.db import connection

        from envoi.deliveries import services

        self.sink = Sink(self.sink_port)
        services.confirm(self.user, self.delivery)
        connection.close()
        self.runs = start_workers(self.options, self.log_dir)
        deadline = time.monotonic() + 20
        while self.sent() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)

    def sent(self, start: dt.datetime | None = None, end: dt.datetime | None = None) -> int:
        from envoi.sending.models import SendingLog

        rows = SendingLog.objects.filter(delivery=self.delivery, status="sent")
        if start and end:
            rows = rows.filter(sent_at__gte=start, sent_at__lt=end)
        return rows.count()

    def finish(self, seconds: float) -> str:
        """Wait for the workers; the send's figures during wrk's window."""
        assert self.window is not None
        wait_workers(self.runs, timeout=600)
        received = self.sink.wait_for(self.count)
        self.sink.stop()
        in_window = self.sent(*self.window)
        total = self.sent()
        if total != self.count or received != self.count:
            common.fail(f"send: {total} rows sent, sink counted {received}, of {self.count}")
        note(f"send during wrk: {in_window} messages in {seconds:.0f} s; all {total} rows "
             f"sent, the sink counted {received}; worker peak RSS "
             f"{max(r.max_rss_kb for r in self.runs) / 1024:.0f} MB")
        return (f"; during a send: {in_window / seconds:.0f} msg/s by "
                f"{self.options.workers} workers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=0,
                        help="offer about this many requests/s (0: as fast as served)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="seconds of load before the measured run")
    parser.add_argument("--during-send", action="store_true",
                        help="send a second delivery to the same profiles meanwhile")
    parser.add_argument("--send-workers", type=int, default=2)
    parser.add_argument("--db-name", default="envoi_bench_tracking")
    args = parser.parse_args()

    data_dir = common.temp_dir("envoi-bench-tracking-")
    sink_port = free_port()
    common.configure(common.reset_postgres(args.db_name), data_dir,
                     f"smtp://127.0.0.1:{sink_port}?pool=4")
    port = free_port()
    os.environ["ENVOI_BASE_URL"] = base_url = f"http://127.0.0.1:{port}"
    common.setup_django(migrate=True)
    note(common.machine_description())
    note(f"seeded {args.messages} profiles in {seed_profiles(args.messages):.2f} s")
    delivery = prepared_delivery(common.all_roles_user(), args.messages)
    mark_sent(delivery)
    paths = click_paths(delivery, base_url)
    paths_file = Path(data_dir) / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    note(f"{len(paths)} click links, one per message, e.g. {paths[0]}")
    alongside = (SendAlongside(common.all_roles_user(), args.messages, args.send_workers,
                               sink_port, data_dir) if args.during_send else None)

    server = start_server(port, args.server_workers)
    warm: dict = {"requests": 0}
    try:
        if args.warmup:  # fill each server process's caches and connections first
            warm = run_wrk(port, paths_file, args.warmup, args.connections, args.rate,
                           show=False)
            note(f"warm-up: {warm['requests']} requests in {args.warmup} s (not counted "
                 f"in the rate; their events are in the stored count)")
        if alongside:
            alongside.start()
        started = dt.datetime.now(dt.UTC)
        result = run_wrk(port, paths_file, args.seconds, args.connections, args.rate)
        if alongside:
            alongside.window = (started, dt.datetime.now(dt.UTC))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    during = alongside.finish(args.seconds) if alongside else ""
    stored = stored_clicks(delivery.pk) - warm["requests"]
    answered = result["requests"] - result["errors"]
    lost = max(answered - stored, 0)
    note(f"server exit code {server.returncode}; non-3xx or socket errors {result['errors']}")
    print(f"envoi-tracking: {answered} redirects in {args.seconds} s = {result['rate']:.0f} "
          f"req/s, p99 {result['p99_ms']:.1f} ms; events stored {stored} / answered "
          f"{answered} ({lost} lost) ({args.server_workers} server workers, postgresql, "
          f"{'offered ' + str(args.rate) + '/s' if args.rate else 'closed loop'}, "
          f"{args.connections} connections){during}")
    common.drop_postgres(args.db_name)
    return 1 if lost or result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
