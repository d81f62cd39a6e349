"""``envoi workers``, ``envoi check``, ``envoi upgrade`` and ``envoi retention``, and the
worker's health and metrics ports."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import translation
from django.utils.translation import gettext as _

import envoi


def add_commands(commands: argparse._SubParsersAction) -> None:
    workers = commands.add_parser("workers", help="list the workers and their heartbeats")
    workers.set_defaults(handler=cmd_workers)
    check = commands.add_parser(
        "check", help="check configuration, relays, database, key, https and clock")
    check.add_argument("--deploy", action="store_true",
                       help="exit 1 on anything unsafe for production")
    check.add_argument("--workers", type=int, default=1,
                       help="worker processes planned, on all hosts (default 1)")
    check.add_argument("--servers", type=int, default=1,
                       help="`envoi serve` processes planned, on all hosts (default 1)")
    check.add_argument("--language", choices=["en", "ko", "ja"], default=None,
                       help="language of the findings (default: from LANG)")
    check.set_defaults(handler=cmd_check)
    upgrade = commands.add_parser(
        "upgrade", help="check, apply this release's migrations, report")
    upgrade.add_argument("--dry-run", action="store_true",
                         help="check and list the migrations, apply nothing")
    upgrade.add_argument("--language", choices=["en", "ko", "ja"], default=None,
                         help="language of the report (default: from LANG)")
    upgrade.set_defaults(handler=cmd_upgrade)
    retention = commands.add_parser(
        "retention", help="age out now the logs past their retention period, print counts")
    retention.set_defaults(handler=cmd_retention)


def reader_language(chosen: str | None) -> str:
    if chosen:
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        prefix = os.environ.get(name, "")[:2]
        if prefix in ("ko", "ja", "en"):
            return prefix
    return "en"


def cmd_workers(args: argparse.Namespace) -> int:
    from django.db import DatabaseError

    from envoi.ops.health import one_line
    from envoi.ops.services import list_workers

    try:
        found = list_workers(None, check_role=False)
    except DatabaseError as error:
        print(f"envoi: database unreachable: {one_line(error)}", file=sys.stderr)
        return 2
    if not found:
        print("no worker has written a heartbeat yet")
        return 0
    header = ("WORKER", "HOST", "PID", "VERSION", "STATE", "STARTED", "LAST SEEN",
              "DELIVERY", "MSGS/MIN")
    rows = [(w.worker_id, w.host, str(w.pid), w.version, w.state,
             w.started_at.isoformat(timespec="seconds"),
             w.last_seen_at.isoformat(timespec="seconds"),
             str(w.current_delivery_id or "-"), str(w.messages_last_minute)) for w in found]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from envoi.ops.check import Plan, failed, run_checks

    if args.workers < 1 or args.servers < 0:
        print("envoi check: --workers must be at least 1 and --servers at least 0",
              file=sys.stderr)
        return 2
    with translation.override(reader_language(args.language)):
        findings = run_checks(Plan(workers=args.workers, servers=args.servers))
        print_findings(findings)
        bad = failed(findings, deploy=args.deploy)
        if args.deploy:
            print(_("Not ready for production.") if bad else _("Ready for production."))
        elif bad:
            print(_("Something does not work: see the errors above."))
    return 1 if bad else 0


def print_findings(findings: list) -> None:
    from envoi.ops.check import VERDICTS

    width = max((len(str(f.topic)) for f in findings), default=0)
    for finding in findings:
        print(f"{str(VERDICTS[finding.verdict]):8} {finding.topic:{width}}  {finding.message}")


def cmd_upgrade(args: argparse.Namespace) -> int:
    from envoi.ops.upgrade import upgrade

    with translation.override(reader_language(args.language)):
        report = upgrade(dry_run=args.dry_run)
        print_findings(report.findings)
        if report.stopped_by:
            print(_("Upgrade stopped before any change: %(reason)s")
                  % {"reason": report.stopped_by})
            return 1
        names = ", ".join(report.planned)
        if not report.planned:
            print(_("No migration to apply: the database is up to date."))
        elif args.dry_run:
            print(_("Would apply %(count)s migrations: %(names)s")
                  % {"count": len(report.planned), "names": names})
        else:
            print(_("Applied %(count)s migrations in %(seconds).1f s: %(names)s")
                  % {"count": len(report.applied), "seconds": report.seconds, "names": names})
        for version, hosts in report.other_releases.items():
            print(_("Workers of release %(version)s still run on %(hosts)s: restart them "
                    "with this release.") % {"version": version, "hosts": ", ".join(hosts)})
        if report.ready or args.dry_run:
            print(_("Database ready for release %(version)s.") % {"version": envoi.__version__}
                  if report.ready else report.detail)
            return 0
        print(_("Database not ready: %(detail)s") % {"detail": report.detail})
        return 1


def cmd_retention(args: argparse.Namespace) -> int:
    """What the daily job does, now; under the periodic-job lock, so never beside it."""
    from envoi.ops.retention import run_retention
    from envoi.reporting.jobs import one_runner_at_a_time

    with one_runner_at_a_time() as allowed:
        if not allowed:
            print("envoi retention: a worker is running the periodic jobs; try again",
                  file=sys.stderr)
            return 1
        counts = run_retention()
    for name, value in counts.items():
        print(f"{name}: {value}")
    return 0


@contextmanager
def worker_sidecars(args: argparse.Namespace, *, processes: int = 1) -> Iterator[None]:
    """The worker's health and metrics ports, open while it runs. With several
    processes, the parent answers for all of them: they write their metrics into one
    multiprocess directory, set here before they start."""
    from envoi.ops.sidecar import start_sidecars

    if processes > 1 and args.metrics_port:
        from envoi.config import data_dir
        from envoi.ops.metrics import use_multiprocess_dir

        use_multiprocess_dir(data_dir() / "metrics" / f"worker-{args.metrics_port}")
    sidecars = start_sidecars(args.listen, args.health_port, args.metrics_port)
    for sidecar in sidecars:
        print(f"worker: answering on {args.listen}:{sidecar.port}", flush=True)
    try:
        yield
    finally:
        for sidecar in sidecars:
            sidecar.stop()
