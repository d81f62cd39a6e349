"""Profile import (upload, column mapping with a preview, mode, live progress, report of
rejected rows) and CSV exports, over :mod:`envoi.audiences.jobs` and
:mod:`envoi.reporting.exports`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from envoi.audiences import importer, jobs
from envoi.audiences.attribute_types import TYPES
from envoi.audiences.csvreading import CsvFileError
from envoi.audiences.models import Audience, ImportJob
from envoi.reporting import exports
from envoi.web.views.common import console, delivery_for, get_or_404, requires

KNOWN_TARGETS = ("external_id", *importer.PROFILE_FIELDS)


@requires("profile.import")
def import_start(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None or not upload.size:
            error = _("Choose a CSV file to import.")
        else:
            job = jobs.create_job(request.user, upload, upload.name or "profiles.csv")
            return redirect("web:import_job", job.pk)
    return render(request, "web/import_start.html", {"error": error})


@requires("profile.import")
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.refresh_stale(get_or_404(ImportJob, pk))
    if job.status != ImportJob.QUEUED:
        return render(request, "web/import_job.html", {"job": job})
    try:
        header, rows = jobs.preview(job)
    except CsvFileError as error:
        return render(request, "web/import_job.html", {"job": job, "file_error": str(error)})
    targets = [request.POST.get(f"column_{index}", jobs.guessed_target(cell)).strip()
               for index, cell in enumerate(header)]
    mode = request.POST.get("mode", "update")
    problem = ""
    if request.method == "POST":
        try:
            importer._read_header(targets, mapped=True)
            jobs.start(request.user, job, targets, mode, request.POST.get("list_name", ""))
            return redirect("web:import_job", job.pk)
        except (CsvFileError, ValueError) as refused:
            problem = str(refused)
    columns = [{"index": index, "name": cell, "target": target,
                "sample": [row[index] if index < len(row) else "" for row in rows]}
               for index, (cell, target) in enumerate(zip(header, targets, strict=True))]
    return render(request, "web/import_job.html", {
        "job": job, "columns": columns, "rows": rows, "mode": mode, "error": problem,
        "known_targets": KNOWN_TARGETS, "types": TYPES,
        "list_name": request.POST.get("list_name", "")})


@requires("profile.import")
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.refresh_stale(get_or_404(ImportJob, pk))
    return render(request, "web/_import_progress.html", {"job": job})


@requires("profile.import")
def import_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_or_404(ImportJob, pk)
    response = HttpResponse(jobs.rejected_rows_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response


@requires("profile.export")
def export_profiles(request: HttpRequest) -> HttpResponse:
    chosen = request.GET.get("audience", "")
    audience = get_or_404(Audience, int(chosen)) if chosen.isdigit() else None
    # A streamed response is no HttpResponse to the type checker; the console's view
    # decorators pass any response through.
    return exports.streaming_response(  # type: ignore[return-value]
        request, exports.profiles(request.user, audience))


@console
def delivery_export(request: HttpRequest, pk: int, log: str) -> HttpResponse:
    delivery = delivery_for(request, pk, "logs.export")
    if log not in exports.LOGS:
        return HttpResponse(status=404)
    return exports.streaming_response(  # type: ignore[return-value]
        request, exports.delivery_log(request.user, delivery.pk, log))
