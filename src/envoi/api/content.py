"""Content endpoints: preview, duplication and templates of deliveries, and images.
Thin calls into :mod:`envoi.content`."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from envoi.accounts.services import require
from envoi.api.deliveries import (
    PageFilter,
    _page,
    get_audience,
    out,
    permitted_delivery,
)
from envoi.api.deliveries import router as deliveries_router
from envoi.api.router import BadRequest, get_or_404
from envoi.api.schemas import (
    DeliveryFromTemplateIn,
    DeliveryOut,
    DuplicateIn,
    ImageOut,
    PreviewIn,
    PreviewOut,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
    VariantKpisOut,
)
from envoi.content import images, templates
from envoi.content.kpis import variant_kpis
from envoi.content.models import Template
from envoi.content.preview import PreviewError, preview
from envoi.deliveries.models import Delivery
from envoi.deliveries.services import DeliveryError

templates_router = Router()
images_router = Router()


@deliveries_router.post("/{delivery_id}/preview", response=PreviewOut)
def preview_delivery(request: HttpRequest, delivery_id: int, payload: PreviewIn | None = None):
    """The message as profile ``profile_id`` (or the profile with ``email``, or a sample
    of the audience), in the ``language`` variant (or the profile's). Records nothing."""
    delivery = permitted_delivery(request, delivery_id, "delivery.view")
    given = payload or PreviewIn()
    try:
        return preview(delivery, given.profile_id, given.email, given.language)
    except PreviewError as error:
        raise BadRequest(str(error)) from error


@deliveries_router.post("/{delivery_id}/duplicate", response={201: DeliveryOut})
def duplicate_delivery(request: HttpRequest, delivery_id: int,
                       payload: DuplicateIn | None = None):
    """A new draft with the content, audience and settings; not the logs."""
    label = payload.label if payload else None
    try:
        copy = templates.duplicate(
            request.user, permitted_delivery(request, delivery_id, "delivery.view"), label)
    except DeliveryError as error:
        raise BadRequest(str(error)) from error
    return Status(201, out(copy, request.user))


@deliveries_router.get("/{delivery_id}/kpis/variants", response=VariantKpisOut)
def delivery_variant_kpis(request: HttpRequest, delivery_id: int):
    """The KPIs of each language variant, computed now from the logs."""
    delivery = permitted_delivery(request, delivery_id, "delivery.view")
    return {"delivery_id": delivery.pk, "variants": variant_kpis(request.user, delivery)}


def _source_delivery(request: HttpRequest, delivery_id: int) -> Delivery:
    """The delivery a template is taken from: a reference in the body, so one that does
    not exist is a bad request (400), not a missing resource."""
    require(request.user, "delivery.view", delivery_id=delivery_id)
    found = Delivery.objects.filter(pk=delivery_id).first()
    if found is None:
        raise BadRequest(f"delivery_id: delivery {delivery_id} does not exist.")
    return found


def get_template(template_id: int) -> Template:
    return get_or_404(Template, template_id, "Template")


def template_out(template: Template) -> dict:
    return {field: getattr(template, field) for field in TemplateOut.model_fields}


class TemplateFilter(PageFilter):
    search: str | None = None


@templates_router.get("", response=TemplatePage)
def list_templates(request: HttpRequest, filters: Query[TemplateFilter]):
    """Most recently changed first; ``search`` matches name, description and subject."""
    found = templates.list_templates(request.user, filters.search or "")
    page = _page(found, filters, order=False)
    by_id = found.in_bulk([row["id"] for row in page["results"]])
    page["results"] = [template_out(by_id[row["id"]]) for row in page["results"]]
    return page


@templates_router.post("", response={201: TemplateOut})
def create_template(request: HttpRequest, payload: TemplateIn):
    """From ``delivery_id``'s content, or from the fields given (which win)."""
    fields = payload.model_dump(exclude_none=True)
    delivery_id = fields.pop("delivery_id", None)
    require(request.user, "template.edit")  # before any lookup: no existence oracle
    source = _source_delivery(request, delivery_id) if delivery_id is not None else None
    try:
        created = templates.create_template(request.user, from_delivery=source, **fields)
    except templates.TemplateError as error:
        raise BadRequest(str(error)) from error
    return Status(201, template_out(created))


@templates_router.get("/{template_id}", response=TemplateOut)
def read_template(request: HttpRequest, template_id: int):
    require(request.user, "template.view")
    return template_out(get_template(template_id))


@templates_router.patch("/{template_id}", response=TemplateOut)
def edit_template(request: HttpRequest, template_id: int, payload: TemplatePatch):
    changes = payload.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in changes.items() if value is None)
    if nulls:
        raise BadRequest(f"{', '.join(nulls)}: may not be null.")
    try:
        require(request.user, "template.edit")
        edited = templates.update_template(request.user, get_template(template_id), **changes)
    except templates.TemplateError as error:
        raise BadRequest(str(error)) from error
    return template_out(edited)


@templates_router.delete("/{template_id}", response={204: None})
def delete_template(request: HttpRequest, template_id: int):
    require(request.user, "template.edit")
    templates.delete_template(request.user, get_template(template_id))
    return Status(204, None)


@templates_router.post("/{template_id}/deliveries", response={201: DeliveryOut})
def delivery_from_template(request: HttpRequest, template_id: int,
                           payload: DeliveryFromTemplateIn):
    """A new draft delivery with the template's content."""
    require(request.user, "template.view")
    require(request.user, "delivery.create")
    fields = payload.model_dump()
    fields["audience"] = get_audience(fields.pop("audience_id"))
    try:
        created = templates.delivery_from_template(request.user, get_template(template_id),
                                                   **fields)
    except DeliveryError as error:
        raise BadRequest(str(error)) from error
    return Status(201, out(created, request.user))


@images_router.post("", response={201: ImageOut})
def upload_image(request: HttpRequest, file: File[UploadedFile]):
    """A PNG, JPEG, GIF or WebP image (multipart field ``file``), judged by its content;
    its ``url`` is public and never changes."""
    limit = images.max_bytes()
    data = file.read(limit + 1)  # past the limit: refused without reading it all
    try:
        image = images.upload(request.user, data, file.name or "", file.size)
    except images.ImageRefused as error:
        raise BadRequest(str(error)) from error
    return Status(201, {"id": image.pk, "url": images.public_url(image),
                        "content_type": image.content_type, "size": image.size,
                        "width": image.width, "height": image.height})
