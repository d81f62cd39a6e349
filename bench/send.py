"""End-to-end sending benchmark: Envoi's real workers into Postfix's smtp-sink.

    .venv/bin/python bench/send.py [--recipients 50000] [--workers 2] [--database postgresql]

Seeds N profiles with the real importer, takes one delivery through the real services
(create → prepare → approve → confirm), then times real ``envoi worker`` processes from
confirm until every sending-log row is terminal. The workers are started first and wait
for work, as they run in production; ``--cold-start`` starts ``envoi worker
--until-idle`` processes at the confirmation instead, so their start-up is timed too.
In the same run, ``smtp-source -d -s 16`` pushes messages of the same size into the same
smtp-sink, which is the relay's raw limit on this machine. The run fails (exit 1) unless
every row is ``sent`` and the sink received exactly N messages: any loss or duplicate
shows.

Everything but the last line starts with ``#``; the last line is the comparable result.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import common
import content
from common import note

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SOURCE_SESSIONS = 16


# smtp-sink ------------------------------------------------------------------------------


class Sink:
    """``smtp-sink -c``: its running counter (``sess=N quit=N mesg=N``, one per CR) is
    read from stdout by a thread; ``mesg`` counts messages whose final "." arrived."""

    _COUNTER = re.compile(rb"mesg=(\d+)")

    def __init__(self, port: int, backlog: int = 5000):
        command = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to run as root without -u
        command += [f"127.0.0.1:{port}", str(backlog)]
        self.command = command
        self.port = port
        self.count = 0
        self.updated = threading.Condition()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._wait_listening()

    def _read(self) -> None:
        assert self.process.stdout is not None
        tail = b""
        while True:
            # smtp-sink writes its counter on every event: reading each write as it
            # comes cost this script ~4 % of the machine during a send. At most 20 ms
            # of counters (~15 KB at 10,000 msg/s) wait in the 64 KB pipe instead.
            time.sleep(0.02)
            chunk = self.process.stdout.read1(65536)
            if not chunk:
                return
            tail = (tail + chunk)[-256:]
            found = self._COUNTER.findall(tail)
            if found:
                with self.updated:
                    self.count = int(found[-1])
                    self.updated.notify_all()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"smtp-sink exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return  # this probe counts as a session, not as a message
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start listening")

    def wait_for(self, expected: int, settle: float = 1.0, timeout: float = 10.0) -> int:
        """The counter once it reached ``expected`` and stayed put for ``settle`` seconds
        (so a duplicate arriving late is still counted), or after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.updated:
            while self.count < expected and time.monotonic() < deadline:
                self.updated.wait(0.1)
        time.sleep(settle)
        return self.count

    def cpu_seconds(self) -> float:
        return common.cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Seeding and the delivery ---------------------------------------------------------------


def seed_profiles(count: int) -> float:
    """Import ``count`` profiles through the real CSV importer; returns seconds."""
    from envoi.audiences.importer import import_profiles_csv

    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(["email", "first_name", "last_name", "language", "timezone"])
    for i in range(count):
        first, last, language = common.name_of(i)
        writer.writerow([f"member{i}@rcpt{i % 97}.example.com", first, last, language,
                         "Asia/Seoul" if language == "ko" else "Europe/Paris"])
    stream.seek(0)
    started = time.perf_counter()
    report = import_profiles_csv(stream)
    elapsed = time.perf_counter() - started
    if report.imported != count or report.error_count:
        raise RuntimeError(f"import: {report.imported} imported, {report.error_count} refused: "
                           f"{report.errors[:3]}")
    return elapsed


def prepared_delivery(user, count: int, label: str = "Spring sale", mjml: bool = False):
    """A delivery to every seeded profile, prepared and approved through the services;
    with ``mjml``, written in MJML with a Korean and a Japanese variant."""
    from envoi.audiences.services import create_audience
    from envoi.deliveries import services

    audience = create_audience(user, f"{label} members", 'language = "ko" or language = "en"')
    written = ({"content_mode": "mjml", "subject": content.SUBJECTS["en"],
                "mjml_body": content.mjml_body("en"), "variants": content.variants()}
               if mjml else {"subject": content.SUBJECT, "html_body": content.html_body(),
                             "text_body": content.text_body()})
    delivery = services.create(user, label=label, sender=content.SENDER, audience=audience,
                               **written)
    started = time.perf_counter()
    delivery = services.prepare(user, delivery)
    note(f"prepare: {time.perf_counter() - started:.2f} s, status {delivery.status}, "
         f"targeted {delivery.targeted}, to_deliver {delivery.to_deliver}, "
         f"exclusions {delivery.exclusions}")
    if delivery.to_deliver != count:
        messages = list(delivery.preparation_messages.values_list("message", flat=True))
        raise RuntimeError(f"prepared {delivery.to_deliver} of {count}: {messages}")
    return services.approve(user, delivery)


def rendered_size(delivery) -> int:
    """Bytes of one real message (the first row's), as the worker hands it to a relay
    that offers 8BITMIME (smtp-sink does)."""
    return len(first_message(delivery))


def first_message(delivery) -> bytes:
    from envoi.sending.models import SendingLog
    from envoi.sending.variants import VariantRenderer
    from envoi.sending.worker import load_profiles

    row = SendingLog.objects.filter(delivery=delivery).order_by("id").first()
    assert row is not None
    profile = load_profiles([row.profile_id])[row.profile_id]
    return VariantRenderer(delivery).render(row.id, row.address, profile,
                                            variant=row.variant).data_8bit


def signed_send(args: argparse.Namespace, user, sink: Sink, data_dir: str,
                n: int) -> SendResult:
    """The same newsletter to the same profiles, once the sender's domain has DKIM keys:
    every message then carries an RSA-2048 and an Ed25519 signature."""
    from django.db import connection

    from envoi.accounts.services import OPERATOR
    from envoi.sending.email.keys import create_keys

    domain = content.SENDER.rsplit("@", 1)[1].rstrip(">")
    create_keys(OPERATOR, domain, "bench")
    delivery = prepared_delivery(user, n, label="Spring sale, signed")
    message = first_message(delivery)
    if message.count(b"DKIM-Signature:") != 2:
        raise RuntimeError("the signed delivery's message does not carry two signatures")
    note(f"DKIM: keys created for {domain}; the signed message is {len(message)} B")
    result = timed_send(args, user, delivery, sink, data_dir, n)
    connection.close()
    return result


# Workers --------------------------------------------------------------------------------


@dataclass
class WorkerRun:
    index: int
    process: subprocess.Popen
    log: Path
    exit_code: int | None = None
    max_rss_kb: int = 0
    cpu: float = 0.0
    system_cpu: float = 0.0
    processed: int = 0
    output: str = field(default="", repr=False)


def worker_command(index: int, args: argparse.Namespace) -> list[str]:
    bin_dir = Path(sys.executable).parent
    options = ["--until-idle"] if args.cold_start else []
    if args.profile:
        return [sys.executable, "-m", "cProfile", "-o", f"{args.profile}/worker{index}.prof",
                "-m", "envoi.cli", "worker", *options]
    command = [str(bin_dir / "envoi"), "worker", *options]
    if args.py_spy:
        return [str(bin_dir / "py-spy"), "record", "--format", "raw", "--rate", "250", "--gil",
                "--output", f"{args.py_spy}/worker{index}.txt", "--", *command]
    return command


def start_workers(args: argparse.Namespace, log_dir: str) -> list[WorkerRun]:
    runs = []
    for index in range(args.workers):
        log = Path(log_dir) / f"worker{index}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(worker_command(index, args), stdout=out,
                                       stderr=subprocess.STDOUT)
        runs.append(WorkerRun(index, process, log))
    return runs


def wait_started(runs: list[WorkerRun], timeout: float = 60) -> None:
    """Until every worker has printed its start line (Django loaded, relays configured)."""
    deadline = time.monotonic() + timeout
    for run in runs:
        while b": started" not in run.log.read_bytes():
            if run.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {run.index} did not start: "
                                   f"{run.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)


def wait_finished(delivery_id: int, runs: list[WorkerRun], timeout: float) -> None:
    """Until the delivery is finished (its last row is terminal), or a worker exits."""
    from django.db import connection

    from envoi.deliveries.models import Delivery

    deadline = time.monotonic() + timeout
    while Delivery.objects.get(pk=delivery_id).status != "finished":
        if any(has_exited(run) for run in runs):
            break  # reaped and reported as a failure below
        if time.monotonic() > deadline:
            raise TimeoutError(f"the delivery did not finish within {timeout:.0f} s")
        time.sleep(0.05)
    connection.close()


def has_exited(run: WorkerRun) -> bool:
    """Without reaping it: :func:`wait_workers` needs its wait4 figures."""
    return os.waitid(os.P_PID, run.process.pid,
                     os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def stop_workers(runs: list[WorkerRun]) -> None:
    """SIGTERM: each worker drains and exits, as under a service manager."""
    for run in runs:
        run.process.terminate()


def wait_workers(runs: list[WorkerRun], timeout: float) -> None:
    """Reap each worker with wait4, which hands over its own peak RSS and CPU time."""
    deadline = time.monotonic() + timeout
    waiting = list(runs)
    while waiting:
        for run in list(waiting):
            pid, status, usage = os.wait4(run.process.pid, os.WNOHANG)
            if pid == 0:
                continue
            run.exit_code = os.waitstatus_to_exitcode(status)
            run.process.returncode = run.exit_code
            run.cpu = usage.ru_utime + usage.ru_stime
            run.system_cpu = usage.ru_stime
            run.output = run.log.read_text(errors="replace")
            found = re.search(r"(\d+) messages processed, peak memory (\d+) MB", run.output)
            run.processed = int(found.group(1)) if found else 0
            # The worker's own VmHWM: wait4's ru_maxrss would include this script's
            # peak, which Linux hands down to the child it forks and execs.
            run.max_rss_kb = int(found.group(2)) * 1024 if found else usage.ru_maxrss
            waiting.remove(run)
        if waiting and time.monotonic() > deadline:
            for run in waiting:
                run.process.kill()
            raise TimeoutError(f"workers still running after {timeout:.0f} s")
        time.sleep(0.02)


def sending_summary(delivery_id: int) -> dict:
    from django.db.models import Count, Max, Min

    from envoi.deliveries.models import Delivery
    from envoi.sending.models import SendingLog

    rows = SendingLog.objects.filter(delivery_id=delivery_id)
    by_status = dict(rows.order_by().values_list("status").annotate(n=Count("id"))
                     .values_list("status", "n"))
    stamps = rows.aggregate(first=Min("sent_at"), last=Max("updated_at"),
                            ids=Count("message_id", distinct=True), attempts=Max("attempts"))
    return {"by_status": by_status, **stamps,
            "retried": rows.filter(attempts__gt=1).count(),
            "delivery_status": Delivery.objects.get(pk=delivery_id).status}


# smtp-source ----------------------------------------------------------------------------


def run_smtp_source(sink: Sink, messages: int, size: int) -> tuple[float, int, float]:
    """(seconds, messages the sink counted, sink CPU seconds) for one smtp-source run."""
    before, cpu_before = sink.count, sink.cpu_seconds()
    command = [SMTP_SOURCE, "-d", "-s", str(SOURCE_SESSIONS), "-m", str(messages),
               "-l", str(size), "-f", "a@example.com", "-t", "b@example.com",
               f"127.0.0.1:{sink.port}"]
    note("relay baseline: " + " ".join(command))
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"smtp-source failed: {result.stderr.strip()}")
    received = sink.wait_for(before + messages, settle=0.5) - before
    return elapsed, received, sink.cpu_seconds() - cpu_before


# The run --------------------------------------------------------------------------------


def run_setup_sql(statements: str) -> None:
    """Extra SQL after migrate: try a schema change (an index, a fillfactor) without
    editing the migrations. Statements are separated by semicolons."""
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in filter(str.strip, statements.split(";")):
            note(f"setup SQL: {statement.strip()}")
            cursor.execute(statement)


@dataclass
class SendResult:
    elapsed: float
    rate: float
    failures: list[str]
    workers_cpu: float


def timed_send(args: argparse.Namespace, user, delivery, sink: Sink, data_dir: str,
               n: int) -> SendResult:
    """Confirm ``delivery`` and time the workers until every row is terminal."""
    from django.db import connection

    from envoi.deliveries import services

    failures: list[str] = []
    before = sink.count
    connection.close()  # the workers own the database from here on
    runs = [] if args.cold_start else start_workers(args, data_dir)
    if runs:
        wait_started(runs)
        time.sleep(1)  # their first look for work done: they wait, as in production
    start_up_cpu = {run.index: common.cpu_seconds(run.process.pid) for run in runs}
    note(f"load average before the send: {common.load_average()}")
    sink_cpu, own_cpu = sink.cpu_seconds(), time.process_time()
    monitor = common.CpuMonitor(args.db_name if args.database == "postgresql" else None)
    monitor.start()
    machine_before = common.machine_cpu()

    t0 = time.time()
    delivery = services.confirm(user, delivery)
    if args.cold_start:
        runs = start_workers(args, data_dir)
    else:
        wait_finished(delivery.pk, runs, args.timeout)
        stop_workers(runs)
    wait_workers(runs, args.timeout)
    exited = time.time() - t0
    for run in runs:  # the CPU of the send alone
        run.cpu -= start_up_cpu.get(run.index, 0.0)
    machine_after = common.machine_cpu()
    pg_cpu = monitor.stop()
    sink_cpu = sink.cpu_seconds() - sink_cpu
    own_cpu = time.process_time() - own_cpu
    received = sink.wait_for(before + n) - before

    summary = sending_summary(delivery.pk)
    elapsed = summary["last"].timestamp() - t0
    first = summary["first"].timestamp() - t0
    rate = n / elapsed
    for run in runs:
        note(f"worker {run.index}: exit {run.exit_code}, {run.processed} processed, "
             f"CPU {run.cpu:.1f} s (system {run.system_cpu:.1f} s), peak RSS "
             f"{run.max_rss_kb / 1024:.0f} MB")
        if run.exit_code:
            failures.append(f"worker {run.index} exited {run.exit_code}")
            print(run.output[-2000:], file=sys.stderr)
    busy = (machine_after[0] - machine_before[0]) / common.CLOCK_TICKS
    total = (machine_after[1] - machine_before[1]) / common.CLOCK_TICKS
    workers_cpu = sum(r.cpu for r in runs)
    other = busy - workers_cpu - pg_cpu - sink_cpu - own_cpu
    note(f"rows by status {summary['by_status']}; delivery {summary['delivery_status']}; "
         f"distinct Message-IDs {summary['ids']}; rows sent more than once "
         f"{summary['retried']}")
    started = "worker start-up" if args.cold_start else "workers already waiting"
    note(f"first message sent {first:.2f} s after confirm ({started}), last row "
         f"terminal at {elapsed:.2f} s, workers exited at {exited:.2f} s; steady rate "
         f"{(n - 1) / max(elapsed - first, 1e-9):.0f} msg/s")
    note(f"CPU during the send ({exited:.1f} s x {os.cpu_count()} cores = {total:.1f} s): "
         f"workers {workers_cpu:.1f} s ({1e6 * workers_cpu / n:.0f} us/msg), PostgreSQL "
         f"backends {pg_cpu:.1f} s, smtp-sink {sink_cpu:.1f} s, this script "
         f"{own_cpu:.1f} s, anything else on the machine {max(other, 0):.1f} s; machine "
         f"busy {100 * busy / max(total, 1e-9):.0f}%")
    needed = workers_cpu + pg_cpu + sink_cpu
    if other > max(1.0, 0.1 * total):
        note(f"WARNING: other processes used {100 * other / total:.0f}% of the machine during "
             f"the send; this result understates Envoi: run again on a quiet machine")
    note(f"CPU cost per message, all parties: {1e6 * needed / n:.0f} us; with the "
         f"{os.cpu_count()} cores to itself, this CPU alone would cap the run near "
         f"{n * (os.cpu_count() or 1) / needed:.0f} msg/s (an estimate, not a measurement)")
    note(f"peak RSS per worker: max {max(r.max_rss_kb for r in runs) / 1024:.0f} MB, "
         f"sum {sum(r.max_rss_kb for r in runs) / 1024:.0f} MB")
    note(f"smtp-sink received {received} messages for {n} rows")
    if summary["by_status"] != {"sent": n}:
        failures.append(f"rows not all sent: {summary['by_status']}")
    if received != n:
        failures.append(f"sink received {received} messages, expected exactly {n}")
    if summary["ids"] != n:
        failures.append(f"{summary['ids']} distinct Message-IDs for {n} rows")
    return SendResult(elapsed, rate, failures, workers_cpu)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--cold-start", action="store_true",
                        help="start `envoi worker --until-idle` at the confirmation, so "
                             "that the workers' start-up is timed (implied by --py-spy)")
    parser.add_argument("--pool", type=int, default=4,
                        help="SMTP connections per worker (ENVOI_SMTP_URL ?pool=)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="ENVOI_BATCH_SIZE (default: Envoi's own, 200)")
    parser.add_argument("--source-messages", type=int, default=None,
                        help="messages for the smtp-source baseline (default: like N, "
                             "10,000 to 50,000)")
    parser.add_argument("--port", type=int, default=0, help="smtp-sink port (default: free)")
    parser.add_argument("--db-name", default="envoi_bench_send")
    parser.add_argument("--timeout", type=float, default=540,
                        help="seconds the workers may take before the run fails")
    parser.add_argument("--profile", metavar="DIR", default=None,
                        help="run each worker under cProfile, writing DIR/worker<k>.prof")
    parser.add_argument("--py-spy", metavar="DIR", default=None,
                        help="run each worker under py-spy (sampling, 250 Hz), writing "
                             "collapsed stacks to DIR/worker<k>.txt (see bench/stacks.py)")
    parser.add_argument("--setup-sql", default="",
                        help="SQL run after migrate, ';'-separated (experiments only)")
    parser.add_argument("--content", choices=["html", "mjml-variants"], default="html",
                        help="the newsletter in HTML, or in MJML with ko and ja variants")
    parser.add_argument("--dkim", action="store_true",
                        help="then send the same newsletter again, DKIM-signed (RSA-2048 "
                             "and Ed25519), and print both rates and their ratio")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database and the data directory afterwards")
    args = parser.parse_args()
    # py-spy would get the SIGTERM meant for the worker it samples
    args.cold_start = args.cold_start or bool(args.py_spy)
    return args


def main() -> int:
    args = parse_args()
    n = args.recipients
    data_dir = common.temp_dir("envoi-bench-send-")
    port = args.port or free_port()
    if args.database == "postgresql":
        database_url = common.reset_postgres(args.db_name)
    else:
        database_url = f"sqlite:///{data_dir}/envoi.sqlite3"
    smtp_url = f"smtp://127.0.0.1:{port}?pool={args.pool}"
    common.configure(database_url, data_dir, smtp_url, args.batch_size)
    for directory in (args.profile, args.py_spy):
        if directory:
            os.makedirs(directory, exist_ok=True)
    note(f"machine: {common.machine_description()}")
    note(f"database {database_url}; relay {smtp_url}; data dir {data_dir}")

    started = time.perf_counter()
    common.setup_django(migrate=True)
    note(f"django setup + migrate: {time.perf_counter() - started:.2f} s")
    if args.setup_sql:
        run_setup_sql(args.setup_sql)

    from django.conf import settings
    from django.db import connection


    note(f"seeded {n} profiles through import_profiles_csv in {seed_profiles(n):.2f} s")
    user = common.all_roles_user()
    delivery = prepared_delivery(user, n, mjml=args.content == "mjml-variants")
    size = rendered_size(delivery)
    note(f"message ({args.content}, variants {delivery.variant_counts}): html "
         f"{len(delivery.compiled_html.encode())} B, text "
         f"{len(delivery.compiled_text.encode())} B, rendered MIME {size} B; batch "
         f"{settings.ENVOI_BATCH_SIZE}, pool {args.pool} per worker")

    sink = Sink(port)
    failures: list[str] = []
    signed: SendResult | None = None
    try:
        result = timed_send(args, user, delivery, sink, data_dir, n)
        elapsed, rate, failures = result.elapsed, result.rate, list(result.failures)
        if args.dkim:
            signed = signed_send(args, user, sink, data_dir, n)
            failures += signed.failures

        messages = args.source_messages or max(10_000, min(n, 50_000))
        source_seconds, source_received, source_sink_cpu = run_smtp_source(sink, messages, size)
        source_rate = messages / source_seconds
        note(f"smtp-source: {messages} msgs of {size} B payload in {source_seconds:.2f} s = "
             f"{source_rate:.0f} msg/s; sink counted {source_received}, sink CPU "
             f"{source_sink_cpu:.1f} s")
        if source_received != messages:
            failures.append(f"smtp-source: sink counted {source_received} of {messages}")
    finally:
        sink.stop()
        if not args.keep:
            connection.close()
            if args.database == "postgresql":
                common.drop_postgres(args.db_name)
            shutil.rmtree(data_dir, ignore_errors=True)

    shape = ", cold start" if args.cold_start else ""
    line = (f"envoi-send: {n} msgs in {elapsed:.1f} s = {rate:.0f} msg/s "
            f"({args.workers} workers{shape}, {args.database}, {args.content}); "
            f"smtp-source -d -s {SOURCE_SESSIONS}: {source_rate:.0f} msg/s; "
            f"ratio {rate / source_rate:.2f}")
    if signed is not None:
        line += (f"; DKIM-signed (RSA-2048 + Ed25519): {signed.rate:.0f} msg/s, "
                 f"signed/unsigned {signed.rate / rate:.2f}; signing adds "
                 f"{1e3 * (signed.workers_cpu - result.workers_cpu) / n:.2f} ms of worker CPU "
                 f"per message")
    if failures:
        for failure in failures:
            common.fail(failure)
        print(line + " FAILED: " + "; ".join(failures))
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
