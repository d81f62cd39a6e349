"""Import benchmark: upsert a CSV of N rows into a table that already holds N profiles.

    .venv/bin/python bench/import.py [--rows 1000000] [--database postgresql|sqlite|both]

Per database, one process seeds N profiles through the importer's batch writer, then a
second, fresh process times ``envoi.audiences.services.import_csv`` (mode ``update``) on a
CSV file of N rows, half of which match seeded profiles by address (written in another
case, with new names) and half of which are new. The rows carry four attribute columns,
one of each inferred type (boolean, number, date, string). The fresh process makes its
peak RSS that of the import alone (plus Django).

Everything but the final lines starts with ``#``; one final line per database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time

import common
from common import note

SEED_BATCH = 50_000


def seed(count: int) -> None:
    from envoi.audiences import importer

    started = time.perf_counter()
    for start in range(0, count, SEED_BATCH):
        rows = []
        for i in range(start, min(count, start + SEED_BATCH)):
            first, last, language = common.name_of(i)
            attributes = json.dumps({"tier": "basic"})
            rows.append((f"member{i}@example.com", "", first, last, language, "Asia/Seoul",
                         False, False, False, attributes))
        importer._write_batch(rows, None)
    note(f"seeded {count} profiles in {time.perf_counter() - started:.1f} s")


def write_csv(path: str, count: int) -> None:
    """Rows N/2 … 3N/2: the first half are seeded profiles (MEMBER… in capitals)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,language,attributes.vip,attributes.points,"
                  "attributes.since,attributes.city\n")
        for i in range(count // 2, count // 2 + count):
            first, last, language = common.name_of(i + 1)
            email = f"MEMBER{i}@Example.com" if i < count else f"member{i}@example.com"
            out.write(f"{email},{first},{last},{language},{'true' if i % 3 else 'false'},"
                      f"{i % 1000},2026-0{1 + i % 9}-1{i % 10},서울\n")


def run_import(path: str) -> None:
    from django.db import connection

    from envoi.accounts.services import OPERATOR
    from envoi.audiences.services import import_csv

    timer = StatementTimer()
    started = time.perf_counter()
    cpu_started = time.process_time()
    with connection.execute_wrapper(timer), open(path, "rb") as stream:
        report = import_csv(OPERATOR, stream, check_role=False)
    seconds = time.perf_counter() - started
    note(f"Python CPU during the import {time.process_time() - cpu_started:.1f} s")
    for took, sql in sorted(timer.statements, reverse=True)[:8]:
        note(f"  {took:7.2f} s  {' '.join(sql.split())[:100]}")
    result = {"seconds": seconds, **report.counts(),
              "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    print("result=" + json.dumps(result), flush=True)


class StatementTimer:
    def __init__(self) -> None:
        self.statements: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql))


def run_child(phase: str, args: argparse.Namespace, extra: list[str]) -> str:
    import subprocess

    command = [sys.executable, os.path.abspath(__file__), "--phase", phase,
               "--rows", str(args.rows), *extra]
    process = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    kept = []
    for line in process.stdout.splitlines():
        if line.startswith("#"):
            print(line, flush=True)
        else:
            kept.append(line)
    return "\n".join(kept)


def bench_database(database: str, args: argparse.Namespace) -> str:
    data_dir = common.temp_dir(f"envoi-bench-import-{database}-")
    if database == "postgresql":
        url = common.reset_postgres(args.db_name)
    else:
        url = f"sqlite:///{data_dir}/envoi.sqlite3"
    common.configure(url, data_dir)
    path = os.path.join(data_dir, "profiles.csv")
    try:
        run_child("seed", args, [])
        write_csv(path, args.rows)
        note(f"CSV of {args.rows} rows: {os.path.getsize(path) / 1e6:.0f} MB")
        note(f"load average before the import: {common.load_average()}")
        output = run_child("import", args, ["--file", path])
    finally:
        if database == "postgresql" and not args.keep:
            common.drop_postgres(args.db_name)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    result = json.loads(output.split("result=")[1].splitlines()[0])
    note(f"load average after the import: {common.load_average()}")
    return (f"envoi-import: {args.rows} rows into {args.rows} profiles on {database} in "
            f"{result['seconds']:.1f} s (created {result['created']}, updated "
            f"{result['updated']}, rejected {result['rejected']}), peak RSS "
            f"{result['peak_rss_kb'] / 1024:.0f} MB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"],
                        default="postgresql")
    parser.add_argument("--db-name", default="envoi_bench_import")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database and the SQLite file")
    parser.add_argument("--phase", choices=["seed", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.phase:
        common.setup_django(migrate=args.phase == "seed")
        if args.phase == "seed":
            seed(args.rows)
        else:
            run_import(args.file)
        return 0
    note(f"machine: {common.machine_description()}")
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    lines = [bench_database(database, args) for database in databases]
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
