"""Preparation benchmark: ``envoi.deliveries.services.prepare`` over N profiles.

    .venv/bin/python bench/prepare.py [--profiles 1000000] [--database postgresql|sqlite|both]

Per database, one process seeds N profiles through the importer's batch writer (COPY on
PostgreSQL, executemany on SQLite) with a realistic share of exclusion cases, and a
second, fresh process times only the ``prepare`` call on a delivery whose audience is a
filter selecting ~95 % of the profiles. The fresh process makes its peak RSS that of
preparation alone (plus Django), not of seeding.

Seeded exclusion cases, by profile number i (i mod 200): 1 % no address, 1 % invalid
address, 2 % case-different duplicates, 1 % opted out, 0.5 % quarantined (a Quarantine
row); 5 % of profiles speak Japanese and fall outside the filter.

``--consent required`` makes the delivery require recorded consent and grants it to
nine profiles in ten (the tenth are excluded as ``no_consent``); ``--consent suppressed``
adds 1,000 erased addresses to the suppression list, so every targeted profile's address
is hashed (HMAC-SHA256) inside the classifying statement. The default, ``off``, is the
benchmark as it was before consent existed.

Everything but the final lines starts with ``#``; one final line per database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import common
import content
from common import note

FILTER = 'language = "ko" or language = "en"'
SEED_BATCH = 50_000


# Seeding (a child process) --------------------------------------------------------------


def profile_row(i: int) -> tuple:
    """The importer's row tuple (PROFILE_FIELDS, then attributes as JSON) of profile i."""
    first, last, language = common.name_of(i)
    if i % 20 == 19:
        language = "ja"
    case = i % 200
    email = f"member{i}@rcpt{i % 97}.example.com"
    if case < 2:
        email = ""  # address missing
    elif case < 4:
        email = f"member{i}.example.com" if case == 2 else f"member{i}@localhost"  # invalid
    elif case < 8:
        j = i + 8  # an ordinary profile's address, differently cased: a duplicate
        email = f"Member{j}@RCPT{j % 97}.Example.COM"
    opted_out = case in (8, 9)
    attributes = json.dumps({"tier": "gold" if i % 10 == 0 else "basic"})
    return (email, "", first, last, language, "Asia/Seoul", opted_out, False, False, attributes)


def quarantined(count: int) -> list[str]:
    return [f"member{i}@rcpt{i % 97}.example.com" for i in range(10, count, 200)]


def seed_consent(count: int, mode: str) -> None:
    """Consent records (``required``) or suppressed addresses (``suppressed``), set-based."""
    from django.db import connection

    from envoi import clock
    from envoi.consent.hashing import address_hash
    from envoi.consent.models import Suppression

    started = time.perf_counter()
    if mode == "required":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO consent_consent (profile_id, channel, status, source, "
                           "updated_at) SELECT id, 'email', 'granted', 'import', created_at "
                           "FROM audiences_profile WHERE id % 10 <> 0")
    elif mode == "suppressed":
        step = max(1, count // 1000)
        Suppression.objects.bulk_create(
            [Suppression(channel="email", created_at=clock.now(),
                         address_hash=address_hash(f"member{i}@rcpt{i % 97}.example.com"))
             for i in range(11, count, step)], batch_size=5000)
    note(f"consent {mode}: seeded in {time.perf_counter() - started:.1f} s")


def seed(count: int, database: str, consent: str = "off") -> None:
    from django.db import connection

    from envoi.audiences import importer
    from envoi.audiences.services import create_audience
    from envoi.bounces.models import Quarantine, QuarantineStatus
    from envoi.deliveries import services

    started = time.perf_counter()
    for start in range(0, count, SEED_BATCH):
        rows = [profile_row(i) for i in range(start, min(count, start + SEED_BATCH))]
        # The importer's own batch writer (COPY / executemany), without the per-row
        # validation of import_profiles_csv, which would dominate a 1M-row seed.
        importer._write_batch(rows, None)
    Quarantine.objects.bulk_create(
        [Quarantine(address=address, status=QuarantineStatus.QUARANTINED, error_count=3,
                    reason="mailbox_full") for address in quarantined(count)],
        batch_size=5000,
    )
    note(f"seeded {count} profiles and {len(quarantined(count))} quarantine rows on "
         f"{database} in {time.perf_counter() - started:.1f} s")
    if consent != "off":
        seed_consent(count, consent)
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        note(f"VACUUM ANALYZE + CHECKPOINT after the load: {time.perf_counter() - started:.1f} s "
             f"(a freshly loaded table, as autovacuum would leave it)")
    user = common.all_roles_user()
    audience = create_audience(user, "Korean and English speakers", FILTER)
    delivery = services.create(user, label="Spring sale", sender=content.SENDER,
                               subject=content.SUBJECT, html_body=content.html_body(),
                               text_body=content.text_body(), audience=audience,
                               require_consent=consent == "required")
    print(f"delivery={delivery.pk}", flush=True)


# Preparing (a fresh child process) ------------------------------------------------------


class StatementTimer:
    """Times every SQL statement run through Django's connection (execute_wrapper)."""

    def __init__(self) -> None:
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql, params))

    def time_commits(self, connection) -> None:
        """COMMIT does not pass through execute_wrapper; time it too (it runs deferred
        constraint checks on PostgreSQL). Patches this one connection object only."""
        commit = connection._commit

        def timed_commit():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.statements.append((time.perf_counter() - started, "COMMIT", None))

        connection._commit = timed_commit


def prepare(delivery_id: int, explain: bool) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from envoi.deliveries import services
    from envoi.deliveries.models import Delivery

    user = User.objects.get(username="bench")
    delivery = Delivery.objects.get(pk=delivery_id)
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    rss_before = common.status_kb("self", "VmRSS")
    timer = StatementTimer()
    timer.time_commits(connection)
    backend_cpu = common.cpu_seconds(backend) if backend else 0.0
    machine = common.machine_cpu()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        cpu = time.process_time()
        delivery = services.prepare(user, delivery)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    busy = (common.machine_cpu()[0] - machine[0]) / common.CLOCK_TICKS
    backend_cpu = (common.cpu_seconds(backend) if backend else 0.0) - backend_cpu
    result = {
        "seconds": elapsed, "python_cpu": cpu, "status": delivery.status,
        "targeted": delivery.targeted, "to_deliver": delivery.to_deliver,
        "exclusions": delivery.exclusions, "rss_before_kb": rss_before,
        "peak_rss_kb": common.status_kb("self", "VmHWM"),
        "backend_peak_rss_kb": common.status_kb(backend, "VmHWM") if backend else 0,
        "backend_cpu": backend_cpu,
        "other_cpu": max(0.0, busy - cpu - backend_cpu),
        "cores": os.cpu_count() or 1,
    }
    slowest = sorted(timer.statements, key=lambda s: s[0], reverse=True)[:6]
    note(f"{len(timer.statements)} SQL statements and commits, "
         f"{sum(s[0] for s in timer.statements):.2f} s "
         f"in all; slowest:")
    for seconds, sql, _ in slowest:
        note(f"  {seconds:7.3f} s  {' '.join(sql.split())[:110]}")
    if explain:
        explain_statements([s for s in timer.statements if "prep_target" in s[1]])
    print("result=" + json.dumps(result), flush=True)


def explain_statements(statements: list) -> None:
    """Re-run the targeting statements under EXPLAIN ANALYZE, then roll everything back."""
    from django.db import connection, transaction

    postgres = connection.vendor == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for _, sql, params in statements:
                if not sql.lstrip().upper().startswith(("INSERT", "SELECT")):
                    if "DROP TABLE prep_target" not in sql:
                        cursor.execute(sql, params)
                    continue
                note(f"plan of: {' '.join(sql.split())[:100]}")
                started = time.perf_counter()
                cursor.execute(prefix + sql, params)
                for row in cursor.fetchall():
                    note("    " + " | ".join(str(v) for v in row))
                if not postgres:  # EXPLAIN QUERY PLAN does not run it: run it, timed
                    cursor.execute(sql, params)
                note(f"    ({time.perf_counter() - started:.2f} s)")
            raise Rollback
    except Rollback:
        pass


# The parent: one fresh database and two child processes per database --------------------


def run_child(phase: str, args: argparse.Namespace, extra: list[str]) -> tuple[str, int]:
    """Run this script in a fresh process; its # lines pass through, the rest is returned."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase,
               "--profiles", str(args.profiles), "--consent", args.consent, *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    kept = []
    for line in process.stdout:
        if line.startswith("#"):
            print(line, end="", flush=True)
        else:
            kept.append(line)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{phase} phase failed with exit code {process.returncode}")
    return "".join(kept), usage.ru_maxrss


def bench_database(database: str, args: argparse.Namespace) -> str:
    data_dir = common.temp_dir(f"envoi-bench-prepare-{database}-")
    if database == "postgresql":
        url = common.reset_postgres(args.db_name)
    else:
        url = f"sqlite:///{data_dir}/envoi.sqlite3"
    common.configure(url, data_dir)
    note(f"{database}: {url}")
    try:
        output, _ = run_child("seed", args, [])
        delivery_id = int(output.split("delivery=")[1].split()[0])
        note(f"load average before prepare: {common.load_average()}")
        extra = ["--delivery", str(delivery_id)] + (["--explain"] if args.explain else [])
        output, max_rss_kb = run_child("prepare", args, extra)
    finally:
        if not args.keep:
            if database == "postgresql":
                common.drop_postgres(args.db_name)
            shutil.rmtree(data_dir, ignore_errors=True)
    result = json.loads(output.split("result=")[1].splitlines()[0])
    note(f"{database}: status {result['status']}, targeted {result['targeted']}, to_deliver "
         f"{result['to_deliver']}, exclusions {result['exclusions']}")
    backend = (f"PostgreSQL backend CPU {result['backend_cpu']:.1f} s, backend peak RSS "
               f"{result['backend_peak_rss_kb'] / 1024:.0f} MB (shared buffers included); "
               if database == "postgresql" else "")
    own = " (PostgreSQL's WAL writer and checkpointer count here)" if backend else ""
    note(f"{database}: Python CPU during prepare {result['python_cpu']:.1f} s; {backend}"
         f"process RSS before prepare {result['rss_before_kb'] / 1024:.0f} MB; other "
         f"processes' CPU during prepare {result['other_cpu']:.1f} s{own}")
    if result["other_cpu"] > max(1.0, 0.1 * result["seconds"] * result["cores"]):
        note(f"WARNING: other processes used {result['other_cpu']:.1f} CPU-seconds during "
             f"prepare; this result understates Envoi: run again on a quiet machine")
    peak_mb = max(result["peak_rss_kb"], max_rss_kb) / 1024
    return (f"envoi-prepare: {args.profiles} profiles on {database}, consent {args.consent}, "
            f"in {result['seconds']:.1f} s "
            f"(to_deliver {result['to_deliver']}), peak RSS {peak_mb:.0f} MB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"],
                        default="both")
    parser.add_argument("--db-name", default="envoi_bench_prepare")
    parser.add_argument("--explain", action="store_true",
                        help="after timing, show the plans (and timings) of the targeting "
                             "statements, rolled back")
    parser.add_argument("--consent", choices=["off", "required", "suppressed"],
                        default="off", help="consent rules in play (see above)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database and the SQLite file")
    parser.add_argument("--phase", choices=["seed", "prepare"], help=argparse.SUPPRESS)
    parser.add_argument("--delivery", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.phase:
        common.setup_django(migrate=args.phase == "seed")
        if args.phase == "seed":
            from django.db import connection

            seed(args.profiles, connection.vendor, args.consent)
        else:
            prepare(args.delivery, args.explain)
        return 0
    note(f"machine: {common.machine_description()}")
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    lines = [bench_database(database, args) for database in databases]
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
