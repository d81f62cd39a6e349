"""End-to-end SMS benchmark: Envoi's real workers into a local SMSC that answers at once.

    .venv/bin/python bench/sms/run.py [--recipients 100000] [--workers 2] [--window 50]

Seeds N profiles with phones through the real importer, takes one SMS delivery through
the real services (create → prepare → approve → confirm), then times ``envoi worker``
processes (already started and waiting) from confirm until every sending-log row is
terminal, into ``smsc_sink.py`` (the smpp34 library's server). In the same run, as many
bare smpplib clients as workers push the same number of submit_sm into the same SMSC:
the ratio says how close Envoi comes to what the library itself can do. The run fails
(exit 1) unless every row is sent and the SMSC received exactly N messages.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402
from common import note  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    def __init__(self, port: int, log: Path):
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "smsc_sink.py"), str(port)], stdout=out)
        deadline = time.monotonic() + 30
        while "ready" not in log.read_text():
            assert time.monotonic() < deadline, "the SMSC did not start"
            time.sleep(0.05)

    def stop(self) -> int:
        time.sleep(0.3)  # its last count printed
        self.process.kill()
        self.process.wait()
        counts = [int(line.split("=")[1]) for line in self.log.read_text().splitlines()
                  if line.startswith("count=")]
        return counts[-1] if counts else 0


def seed(count: int) -> None:
    from envoi.audiences.importer import create_profiles

    for start in range(0, count, 10000):
        rows = [{"phone": f"+8210{20000000 + i}", "first_name": common.name_of(i)[0],
                 "language": common.name_of(i)[2]}
                for i in range(start, min(count, start + 10000))]
        report = create_profiles(rows)
        assert report.error_count == 0, report.errors[:3]


def prepared(user, count: int):
    from envoi.audiences.services import create_audience
    from envoi.deliveries import services

    audience = create_audience(user, "SMS members", "")
    delivery = services.create(user, label="SMS bench", channel="sms", sender="Envoi",
                               text_body="{{ first_name }}님, 봄 세일 30% 할인! 수신거부 STOP",
                               audience=audience)
    started = time.perf_counter()
    delivery = services.prepare(user, delivery)
    note(f"prepare: {time.perf_counter() - started:.2f} s, status {delivery.status}, "
         f"to_deliver {delivery.to_deliver}, parts {delivery.parts}")
    assert delivery.to_deliver == count, list(
        delivery.preparation_messages.values_list("message", flat=True))
    return services.approve(user, delivery)


def bare_clients(port: int, total: int, clients: int, window: int) -> float:
    """Messages per second the SMSC takes from ``clients`` bare smpplib processes."""
    each = total // clients
    runs = [subprocess.Popen([sys.executable, str(HERE / "bare_client.py"), str(port),
                              str(each), str(window)], stdout=subprocess.PIPE, text=True)
            for _ in range(clients)]
    elapsed = []
    for run in runs:
        out, _ = run.communicate(600)
        assert run.returncode == 0, out
        elapsed.append(float(out.split("elapsed=")[1]))
    return each * clients / max(elapsed)  # from bind to the last answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--db-name", default="envoi_bench_sms")
    args = parser.parse_args()
    n = args.recipients
    data_dir = common.temp_dir("envoi-bench-sms-")
    port = free_port()
    database_url = common.reset_postgres(args.db_name)
    common.configure(database_url, data_dir, "smtp://127.0.0.1:9", args.batch_size)
    os.environ["ENVOI_SMPP_URL"] = (f"smpp://bench:bench@127.0.0.1:{port}?window={args.window}"
                                    f"&connections={args.connections}")
    note(f"machine: {common.machine_description()}")
    common.setup_django(migrate=True)
    started = time.perf_counter()
    seed(n)
    note(f"seeded {n} profiles in {time.perf_counter() - started:.1f} s")
    user = common.all_roles_user()
    delivery = prepared(user, n)

    from django.db import connection

    from envoi.deliveries import services
    from envoi.deliveries.models import Delivery
    from envoi.sending.models import SendingLog

    sink = Sink(port, Path(data_dir) / "sink.log")
    connection.close()
    bin_dir = Path(sys.executable).parent
    logs = [Path(data_dir) / f"worker{i}.log" for i in range(args.workers)]
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(subprocess.Popen([str(bin_dir / "envoi"), "worker"], stdout=out,
                                            stderr=subprocess.STDOUT))
    time.sleep(3)
    note(f"load average before the send: {common.load_average()}")
    t0 = time.time()
    services.confirm(user, delivery)
    while Delivery.objects.get(pk=delivery.pk).status != "finished":
        if any(worker.poll() is not None for worker in workers):
            print(logs[0].read_text()[-2000:], file=sys.stderr)
            return 1
        time.sleep(0.05)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(60)
    from django.db.models import Count, Max

    rows = SendingLog.objects.filter(delivery_id=delivery.pk)
    by_status = dict(rows.order_by().values_list("status").annotate(c=Count("id")))
    last = rows.aggregate(last=Max("updated_at"))["last"].timestamp()
    elapsed = last - t0
    rate = n / elapsed
    received = sink.stop()
    note(f"rows by status {by_status}; the SMSC received {received}")
    note(f"load average after the send: {common.load_average()}")

    bare_sink = Sink(port, Path(data_dir) / "bare-sink.log")
    bare = bare_clients(port, min(n, 50_000), args.workers, args.window)
    bare_sink.stop()
    note(f"bare smpplib clients ({args.workers} processes, window {args.window}): "
         f"{bare:.0f} msg/s")
    ok = by_status.get("sent", 0) == n and received == n
    print(f"sms: {n} recipients, {args.workers} workers, window {args.window}: "
          f"{elapsed:.2f} s, {rate:.0f} msg/s end to end; bare client {bare:.0f} msg/s; "
          f"ratio {rate / bare:.2f}; {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
