"""Templates and reuse: the templates list with its search, a delivery's content saved
as a template, a delivery made from a template, and a delivery duplicated. Thin calls
into :mod:`envoi.content.templates`, which checks each permission."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from envoi.accounts.services import require
from envoi.content import templates
from envoi.content.models import Template
from envoi.deliveries.services import DeliveryError
from envoi.web import queries
from envoi.web.errors import message_of
from envoi.web.views.common import console, delivery_for, get_or_404, may, requires

MAX_NAME = 200


@require_GET
@requires("template.view")
def template_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    page = queries.page_of(templates.list_templates(request.user, search),
                           queries.page_number(request.GET.get("page")))
    return render(request, "web/templates.html", {
        "page": page, "search": search, "may_create": may(request, "delivery.create"),
        "may_edit": may(request, "template.edit")})


@require_POST
@console
def template_from_delivery(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the delivery's content (every variant) as a new template."""
    require(request.user, "template.edit", delivery_id=pk if 0 < pk < 2**63 else None)
    delivery = delivery_for(request, pk, "delivery.view")
    name = request.POST.get("name", "").strip()[:MAX_NAME] or delivery.label
    try:
        created = templates.create_template(request.user, from_delivery=delivery, name=name)
    except templates.TemplateError as error:
        messages.error(request, str(error))
        return redirect("web:delivery", pk)
    messages.success(request, _("The content was saved as the template “%(name)s”.")
                     % {"name": created.name})
    return redirect("web:delivery", pk)


@require_POST
@console
def delivery_from_template(request: HttpRequest, pk: int) -> HttpResponse:
    """A new draft delivery with the template's content, opened for editing."""
    require(request.user, "template.view")  # before the lookup: no existence oracle
    require(request.user, "delivery.create")
    template = get_or_404(Template, pk)
    label = request.POST.get("label", "").strip()[:MAX_NAME] or template.name
    try:
        delivery = templates.delivery_from_template(request.user, template, label=label)
    except DeliveryError as error:
        messages.error(request, message_of(error))
        return redirect("web:templates")
    messages.success(request, _("The delivery was created from the template: choose its "
                                "sender and audience."))
    return redirect("web:delivery_edit", delivery.pk)


@require_POST
@console
def delivery_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new draft with the content, audience and settings; not the logs."""
    require(request.user, "delivery.create", delivery_id=pk if 0 < pk < 2**63 else None)
    source = delivery_for(request, pk, "delivery.view")
    try:
        copy = templates.duplicate(request.user, source)
    except DeliveryError as error:
        messages.error(request, message_of(error))
        return redirect("web:delivery", pk)
    messages.success(request, _("This is a copy of “%(label)s”: its content, audience and "
                                "settings, without its logs.") % {"label": source.label})
    return redirect("web:delivery", copy.pk)


EDITABLE = ("name", "description", "subject", "preheader")


@console
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a template, or change its description, subject and preheader."""
    require(request.user, "template.edit")  # before the lookup: no existence oracle
    template = get_or_404(Template, pk)
    name_error = ""
    if request.method == "POST":
        changes = {name: request.POST.get(name, "").strip() for name in EDITABLE}
        changes["name"] = changes["name"][:MAX_NAME]
        if changes["name"]:
            templates.update_template(request.user, template, **changes)
            messages.success(request, _("The template “%(name)s” was saved.")
                             % {"name": template.name})
            return redirect("web:templates")
        name_error = _("A template needs a name.")
        for name, value in changes.items():  # what was typed is kept on the page
            setattr(template, name, value)
    return render(request, "web/template_edit.html",
                  {"template": template, "name_error": name_error})


@require_POST
@console
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a template; deliveries made from it keep their own copy of its content."""
    require(request.user, "template.edit")
    template = get_or_404(Template, pk)
    templates.delete_template(request.user, template)
    messages.success(request, _("The template “%(name)s” was deleted.")
                     % {"name": template.name})
    return redirect("web:templates")
