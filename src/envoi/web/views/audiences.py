"""Audiences: the list, and the filter editor with its live count and located errors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from envoi.accounts.services import require
from envoi.audiences import services
from envoi.audiences.filters import FilterError
from envoi.audiences.models import Audience
from envoi.web import queries
from envoi.web.forms import AudienceForm
from envoi.web.views.common import console, get_or_404, may, requires


@requires("delivery.view")
def audience_list(request: HttpRequest) -> HttpResponse:
    audiences = Audience.objects.order_by("name")
    return render(request, "web/audiences.html", {"audiences": audiences})


@requires("delivery.view")
def audience_count(request: HttpRequest, pk: int) -> HttpResponse:
    """One audience's count in the list, fetched by the row itself: the list does not
    wait for a count over every profile per audience."""
    audience = get_or_404(Audience, pk)
    return HttpResponse(intcomma(services.count_audience(audience)))


@require_POST
@requires("audience.edit")
def audience_delete(request: HttpRequest, pk: int) -> HttpResponse:
    audience = get_or_404(Audience, pk)
    try:
        services.delete_audience(request.user, audience)
    except services.AudienceInUse:
        messages.error(request, _("This audience is used by deliveries: it cannot be "
                                  "deleted."))
        return redirect("web:audience", pk)
    messages.success(request, _("The audience was deleted."))
    return redirect("web:audiences")


def _filter_verdict(text: str) -> dict:
    """How many profiles a filter selects now, or where and why it is wrong."""
    try:
        return {"count": services.count_filter(text)}
    except FilterError as error:
        lines = text.split("\n")
        line_text = lines[error.line - 1] if error.line <= len(lines) else ""
        return {"error": error, "line_text": line_text,
                "pointer": " " * (error.column - 1) + "^"}


@requires("audience.edit")
def audience_check(request: HttpRequest) -> HttpResponse:
    """The live count under the filter editor (htmx, on every pause in typing)."""
    text = request.POST.get("filter", "") if request.method == "POST" else ""
    return render(request, "web/audience_check.html", _filter_verdict(text[:100_000]))


def _save(request: HttpRequest, form: AudienceForm, audience: Audience | None) -> bool:
    name, text = form.cleaned_data["name"], form.cleaned_data["filter"]
    is_filter = audience is None or audience.kind == Audience.FILTER
    if is_filter and not text.strip() and not form.cleaned_data["everyone"]:
        form.add_error("filter", _("The filter is empty: write a condition, or choose "
                                   "Everyone."))
        return False
    try:
        if audience is None:
            services.create_audience(request.user, name, text)
        else:
            services.update_audience(request.user, audience, name, text)
    except FilterError as error:
        form.add_error("filter", _("Line %(line)s, column %(column)s: %(message)s") % {
            "line": error.line, "column": error.column, "message": error.words.render(_)})
        return False
    except IntegrityError:
        form.add_error("name", _("An audience with this name exists already."))
        return False
    return True


@console
def audience_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A saved audience (read as the API's GET /audiences/{id} reads it), or the editor
    for it and for a new one (which needs audience.edit, as its API twin does)."""
    editing = pk is None or request.method == "POST"
    require(request.user, "audience.edit" if editing else "delivery.view")
    audience = get_or_404(Audience, pk) if pk is not None else None
    initial = {"name": audience.name, "filter": audience.filter,
               "everyone": not audience.filter.strip()} if audience else {}
    form = AudienceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, audience):
        messages.success(request, _("The audience was saved."))
        return redirect("web:audiences")
    # A filter's count arrives by itself (the editor asks /audiences/check/ on load):
    # the page does not wait for a count over every profile.
    verdict, members = None, None
    if audience is not None and audience.kind == Audience.LIST:
        verdict = {"count": services.count_audience(audience)}
        members = queries.page_of(services.list_members(audience),
                                  queries.page_number(request.GET.get("page")))
    return render(request, "web/audience_form.html",
                  {"form": form, "audience": audience, "verdict": verdict, "page": members,
                   "uses": services.audience_uses(audience) if audience else [],
                   "may_edit": may(request, "audience.edit")},
                  status=400 if form.errors else 200)
