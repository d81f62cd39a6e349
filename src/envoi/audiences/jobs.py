"""Console imports as jobs: the upload is kept on disk, mapped, then imported in a
background thread whose progress the page polls.

A job runs in the web process, in a thread of its own with its own database connection;
its progress is written to the :class:`~envoi.audiences.models.ImportJob` row at most
once a second. A job left ``running`` by a process that stopped is shown as failed when
its page is next opened (:func:`refresh_stale`).
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    close_old_connections,
    connection,
    connections,
)
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from envoi import config
from envoi.accounts.services import Actor, require
from envoi.audiences import importer, services
from envoi.audiences.csvreading import CsvFileError, CsvReader
from envoi.audiences.models import ImportJob
from envoi.audiences.terminal import count_data_lines

PREVIEW_ROWS = 5
STALE_AFTER = timedelta(minutes=10)


def upload_dir() -> Path:
    path = config.data_dir() / "imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def create_job(user: Actor, upload: IO[bytes], file_name: str) -> ImportJob:
    """Keep the uploaded file and open a job for it; nothing is imported yet."""
    require(user, "profile.import")
    path = upload_dir() / f"{uuid.uuid4().hex}.csv"
    with open(path, "wb") as out:
        while chunk := upload.read(1 << 20):
            out.write(chunk)
    account = user if isinstance(user, User) else None
    return ImportJob.objects.create(created_by=account,
                                    file_name=file_name[:255], path=str(path),
                                    total_rows=count_data_lines(str(path)))


def preview(job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The file's header and first rows, as the mapping page shows them; raises
    :class:`CsvFileError` for a file that cannot be read."""
    rows: list[list[str]] = []
    with open(job.path, "rb") as stream:
        reader = CsvReader(stream, lambda line, reason: None, encoding=job.encoding or None)
        header = reader.read_header()
        for record in reader.records():
            if len(rows) >= PREVIEW_ROWS:
                break
            if "".join(record.fields).strip():
                rows.append(record.fields)
    return header, rows


def guessed_target(cell: str) -> str:
    """The mapping a header cell gets by default: its own name when Envoi knows it."""
    try:
        importer._read_header([cell], mapped=True)
    except CsvFileError:
        return ""
    return cell.strip().lstrip("\ufeff")


def start(user: Actor, job: ImportJob, mapping: list[str], mode: str,
          list_name: str = "") -> None:
    """Queue the import with its mapping and mode, and run it in the background."""
    require(user, "profile.import")
    if mode not in importer.MODES:
        raise ValueError(_('unknown import mode "%(mode)s"; use update, skip or add')
                         % {"mode": mode[:20]})
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.QUEUED).update(
        mapping=mapping, mode=mode, list_name=list_name[:200], status=ImportJob.RUNNING)
    if updated:
        RUNNER(job.pk)


def _in_thread(job_id: int) -> None:
    """The thread reports rejected rows in the language of the page that started it."""
    language = translation.get_language()

    def work() -> None:
        with translation.override(language):
            run(job_id)

    threading.Thread(target=work, name=f"import-{job_id}", daemon=True).start()


# How a started job runs: a thread in production; tests may run it inline.
RUNNER: Callable[[int], None] = _in_thread


def run(job_id: int) -> None:
    """Run the job to its end, recording progress, counts and rejected rows."""
    try:
        job = ImportJob.objects.get(pk=job_id)
        user = job.created_by
        tracker = _ProgressWriter(job_id)
        try:
            with open(job.path, "rb") as stream:
                report = services.import_csv(user, stream, job.list_name or None,
                                             check_role=user is not None,
                                             encoding=job.encoding or None, mode=job.mode,
                                             mapping=job.mapping, progress=tracker)
        finally:
            tracker.close()
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.DONE, done_rows=job.total_rows, finished_at=timezone.now(),
            errors=[[error.line, error.reason] for error in report.errors],
            **report.counts())
    except Exception as error:  # the page must say why, whatever it was
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.FAILED, message=str(error)[:2000], finished_at=timezone.now())
        if not isinstance(error, ValueError):
            raise
    finally:
        for path in ImportJob.objects.filter(pk=job_id).values_list("path", flat=True):
            Path(path).unlink(missing_ok=True)
        if threading.current_thread() is not threading.main_thread():
            connection.close()
            close_old_connections()


# Rows read so far by the imports running in this process (SQLite's progress; see
# _ProgressWriter), by job id.
LIVE_PROGRESS: dict[int, int] = {}


class _ProgressWriter:
    """Records the rows read so far, at most once a second.

    The import holds a transaction on its own connection, so on PostgreSQL the progress
    goes to the job row through a second connection, in autocommit. SQLite has one writer
    at a time, and a second connection's write would wait on (or deadlock with) the
    import's: there the progress stays in this process (:data:`LIVE_PROGRESS`), which
    the embedded shape's one web process serves. Progress is best effort: a failed
    write never stops the import."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.written_at = 0.0
        self.connection: Any = None
        # Run inside a caller's transaction (inline), the job row is not visible to a
        # second connection yet.
        self.to_database = (connection.vendor == "postgresql"
                            and not connection.in_atomic_block)

    def __call__(self, done: int) -> None:
        LIVE_PROGRESS[self.job_id] = done
        if not self.to_database or time.monotonic() - self.written_at < 1:
            return
        self.written_at = time.monotonic()
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
            with self.connection.cursor() as cursor:
                cursor.execute("UPDATE audiences_importjob SET done_rows = %s WHERE id = %s",
                               [done, self.job_id])
        except DatabaseError:
            pass

    def close(self) -> None:
        LIVE_PROGRESS.pop(self.job_id, None)
        if self.connection is not None:
            self.connection.close()


def refresh_stale(job: ImportJob) -> ImportJob:
    """The job with its live progress, and marked failed if it never started."""
    if job.status == ImportJob.RUNNING and job.pk in LIVE_PROGRESS:
        job.done_rows = max(job.done_rows, LIVE_PROGRESS.get(job.pk, 0))
    if job.status == ImportJob.RUNNING and job.created_at < timezone.now() - STALE_AFTER \
            and job.done_rows == 0:
        job.status, job.message = ImportJob.FAILED, _("The import stopped before it began.")
        job.save(update_fields=["status", "message"])
    return job


def rejected_rows_csv(job: ImportJob) -> str:
    """The report of rows left out: line and reason, safe to open in a spreadsheet."""
    from envoi.reporting.exports import safe_cell

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("line"), _("reason")])
    writer.writerows([line, safe_cell(reason)] for line, reason in job.errors)
    return buffer.getvalue()
