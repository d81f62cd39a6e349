"""Shared pieces of the benchmarks: databases, Django set-up, test data, process stats.

The benchmarks are scripts (``python bench/send.py``), so this module is imported as
``common`` from the ``bench`` directory; it never touches ``src/``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"

# Korean given names (most recipients) and Latin ones (one in six).
KOREAN_FIRST = ["민준", "서연", "도윤", "하은", "지호", "서윤", "예준", "지우", "시우", "하윤",
                "주원", "지유", "지훈", "수아", "건우", "채원", "현우", "지민", "우진", "다은"]
KOREAN_LAST = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
LATIN_FIRST = ["Ada", "Bob", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Iris",
               "Jonas"]
LATIN_LAST = ["Martin", "Smith", "Müller", "Rossi", "García", "Dubois", "Novak", "Silva"]


def name_of(i: int) -> tuple[str, str, str]:
    """(first_name, last_name, language) of recipient ``i``: 1 in 6 is Latin."""
    if i % 6 == 5:
        return LATIN_FIRST[i % len(LATIN_FIRST)], LATIN_LAST[i % len(LATIN_LAST)], "en"
    return KOREAN_FIRST[i % len(KOREAN_FIRST)], KOREAN_LAST[(i // 7) % len(KOREAN_LAST)], "ko"


# Databases ------------------------------------------------------------------------------


def reset_postgres(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str:
    import psycopg

    try:
        with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return row[0] if row else "?"
    except psycopg.Error:
        return "unreachable"


def configure(database_url: str, data_dir: str, smtp_url: str = "smtp://127.0.0.1:2525",
              batch_size: int | None = None) -> None:
    """Set Envoi's environment; call before Django is set up (children inherit it)."""
    os.environ["ENVOI_DATABASE_URL"] = database_url
    os.environ["ENVOI_DATA_DIR"] = data_dir
    os.environ["ENVOI_SMTP_URL"] = smtp_url
    os.environ["ENVOI_SECRET_KEY"] = SECRET_KEY
    os.environ["ENVOI_BASE_URL"] = "https://mail.example.com"
    os.environ["DJANGO_SETTINGS_MODULE"] = "envoi.settings"
    # The benchmarks' profiles have no consent records; bench/prepare.py --consent
    # measures the consent rules on their own.
    os.environ.setdefault("ENVOI_REQUIRE_CONSENT", "0")
    if batch_size:
        os.environ["ENVOI_BATCH_SIZE"] = str(batch_size)


def setup_django(migrate: bool = False) -> None:
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def temp_dir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)


def all_roles_user(name: str = "bench"):
    from django.contrib.auth.models import User

    from envoi.accounts.roles import Role
    from envoi.accounts.services import create_user

    return User.objects.filter(username=name).first() or create_user(name, list(Role))


# Process statistics ---------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def status_kb(pid: int | str, field: str) -> int:
    """A ``kB`` field (VmHWM, VmRSS) of /proc/<pid>/status; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of one process so far (plus its reaped children's)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of every ``postgres`` process on the machine (server and backends).

    A backend that exits takes its time with it, but the postmaster that reaps it adds
    it to its children's time, which is counted here too.
    """
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += cpu_seconds(int(entry), children=True)
    return total


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends connected to ``database`` (their title names it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(entry))
    return pids


class CpuMonitor:
    """Samples the CPU time of short-lived processes until they exit.

    Backends of the benchmark's database come and go with the workers' connections;
    sampling every ``interval`` keeps the last reading of each (error < one interval).
    """

    def __init__(self, database: str | None, interval: float = 0.2):
        self.database = database
        self.interval = interval
        self.backend_cpu: dict[int, float] = {}
        self.start_cpu: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuMonitor:
        self._sample()
        self.start_cpu = dict(self.backend_cpu)
        self.thread.start()
        return self

    def _sample(self) -> None:
        if not self.database:
            return
        for pid in backend_pids(self.database):
            cpu = cpu_seconds(pid)
            if cpu:
                self.backend_cpu[pid] = cpu

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._sample()

    def stop(self) -> float:
        """CPU seconds the database's backends used while monitored."""
        self._sample()
        self.stop_event.set()
        self.thread.join()
        return sum(cpu - self.start_cpu.get(pid, 0.0) for pid, cpu in self.backend_cpu.items())


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def machine_description() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")
    total = memory[1].split()[1] if len(memory) > 1 else "?"
    return (f"{os.cpu_count()} cores ({cpu}), {total} RAM, Python {platform.python_version()}, "
            f"PostgreSQL {postgres_version()}, {platform.system()} {platform.release()}")


def note(text: str) -> None:
    """A detail line: everything but the final result line starts with ``#``."""
    print(f"# {text}", flush=True)


def fail(text: str) -> None:
    print(f"# FAILED: {text}", file=sys.stderr, flush=True)
