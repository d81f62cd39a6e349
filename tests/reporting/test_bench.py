"""bench/kpis.py stays runnable: a tiny run prints its one comparable line. (Its real
size and result: docs/BENCHMARKS.md.) The seed is PostgreSQL SQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.postgres_only
def test_kpis_benchmark_runs():
    env = {k: v for k, v in os.environ.items() if k != "ENVOI_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, str(BENCH / "kpis.py"), "--rows", "2000", "--events", "6000",
         "--db-name", "envoi_bench_kpis_smoke"],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"envoi-kpis: compute stats over 2000 rows and 6000 events on "
                        r"postgresql in [\d.]+ s", line), line
