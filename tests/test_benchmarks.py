"""The benchmarks stay runnable: each runs at a tiny size on this pass's database and
prints its one comparable line. (Their real sizes and results: docs/BENCHMARKS.md.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ENVOI_DATABASE_URL"}
    result = subprocess.run([sys.executable, str(BENCH / script), *args], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not shutil.which("smtp-sink"), reason="needs Postfix's smtp-sink: "
                    "scripts/test installs the postfix package")
def test_send_benchmark_runs():
    line = run("send.py", "--recipients", "300", "--workers", "1",
               "--database", connection.vendor, "--db-name", "envoi_bench_send_smoke")
    assert re.fullmatch(r"envoi-send: 300 msgs in [\d.]+ s = \d+ msg/s \(1 workers, \w+, \w+\); "
                        r"smtp-source -d -s 16: \d+ msg/s; ratio [\d.]+", line), line


@pytest.mark.skipif(not shutil.which("smtp-sink"), reason="needs Postfix's smtp-sink: "
                    "scripts/test installs the postfix package")
def test_send_benchmark_with_dkim_runs():
    line = run("send.py", "--recipients", "200", "--workers", "1", "--dkim",
               "--database", connection.vendor, "--db-name", "envoi_bench_send_dkim_smoke")
    assert re.search(r"; DKIM-signed \(RSA-2048 \+ Ed25519\): \d+ msg/s, signed/unsigned "
                     r"[\d.]+; signing adds -?[\d.]+ ms of worker CPU per message$", line), line


def test_dkim_sign_benchmark_runs():
    line = run("dkim_sign.py", "--messages", "20")
    assert re.fullmatch(r"spaced \(\d+ B\): relaxed body \d+ us; RSA-2048 \+ Ed25519 \d+ us; "
                        r"RSA-2048 alone \d+ us; Ed25519 alone \d+ us", line), line


def test_prepare_benchmark_runs():
    line = run("prepare.py", "--profiles", "2000", "--database", connection.vendor,
               "--db-name", "envoi_bench_prepare_smoke")
    assert re.fullmatch(r"envoi-prepare: 2000 profiles on \w+, consent \w+, in [\d.]+ s "
                        r"\(to_deliver \d+\), peak RSS \d+ MB", line), line


def test_import_benchmark_runs():
    line = run("import.py", "--rows", "2000", "--database", connection.vendor,
               "--db-name", "envoi_bench_import_smoke")
    assert re.fullmatch(r"envoi-import: 2000 rows into 2000 profiles on \w+ in [\d.]+ s "
                        r"\(created 1000, updated 1000, rejected 0\), peak RSS \d+ MB", line), line
