"""Templates (reusable content) and duplication: the one core the API and the console
call, each checking the same permission."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from envoi.accounts.services import Actor, audit, require
from envoi.content import authoring
from envoi.content.models import Template
from envoi.deliveries import services as deliveries
from envoi.deliveries.models import Delivery

TEMPLATE_CONTENT = ("content_mode", "subject", "preheader", "html_body", "mjml_body",
                    "text_body", "visual_project")
# What a duplicate copies besides the content: the audience and the settings.
DUPLICATED_SETTINGS = ("sender", "reply_to", "audience", "is_marketing", "require_consent",
                       "typology",
                       "approval_required", "max_retries", "retry_delay_seconds",
                       "validity_hours", "rate_limit", "time_zone", "recipient_time_zone")


class TemplateError(ValueError):
    pass


def list_templates(user: Actor, search: str = "") -> QuerySet[Template]:
    require(user, "template.view")
    found = Template.objects.order_by("-updated_at", "-id")
    if search:
        found = found.filter(Q(name__icontains=search) | Q(description__icontains=search)
                             | Q(subject__icontains=search))
    return found


def content_of(delivery: Delivery) -> dict[str, Any]:
    return {**{name: getattr(delivery, name) for name in TEMPLATE_CONTENT},
            "variants": authoring.variant_dicts(delivery)}


def create_template(user: Actor, *, from_delivery: Delivery | None = None,
                    **fields: Any) -> Template:
    """A template from a delivery's content (``from_delivery``), or from ``fields``;
    given fields win over the delivery's."""
    require(user, "template.edit")
    if from_delivery is not None:
        require(user, "delivery.view", delivery_id=from_delivery.pk)
        fields = {**content_of(from_delivery), **fields}
    fields = _checked(fields)
    template = Template.objects.create(created_by=_user_or_none(user), **fields)
    audit(user, "template.create", template_id=template.pk, name=template.name,
          from_delivery=from_delivery.pk if from_delivery else None)
    return template


def update_template(user: Actor, template: Template, **changes: Any) -> Template:
    require(user, "template.edit")
    for name, value in _checked(changes).items():
        setattr(template, name, value)
    template.save()
    audit(user, "template.edit", template_id=template.pk, fields=sorted(changes))
    return template


def delete_template(user: Actor, template: Template) -> None:
    require(user, "template.edit")
    audit(user, "template.delete", template_id=template.pk, name=template.name)
    template.delete()


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    if fields.get("variants") is not None:
        try:
            fields["variants"] = authoring.clean_variants(fields["variants"])
        except authoring.ContentError as error:
            raise TemplateError(str(error)) from error
    return fields


def delivery_from_template(user: Actor, template: Template, **fields: Any) -> Delivery:
    """A new draft delivery with the template's content; ``fields`` (label, sender,
    audience…) complete it."""
    require(user, "template.view")
    content = {name: getattr(template, name) for name in TEMPLATE_CONTENT}
    content["variants"] = template.variants
    delivery = deliveries.create(user, **{**content, **fields})
    audit(user, "delivery.from_template", delivery_id=delivery.pk, template_id=template.pk)
    return delivery


def duplicate(user: Actor, source: Delivery, label: str | None = None) -> Delivery:
    """A new draft with the source's content, audience and settings; not its logs,
    approval, schedule runs or counts."""
    require(user, "delivery.view", delivery_id=source.pk)
    fields = {name: getattr(source, name) for name in DUPLICATED_SETTINGS}
    fields.update(content_of(source))
    fields["label"] = label or f"{source.label} (copy)"[:200]
    with transaction.atomic():
        delivery = deliveries.create(user, **fields)
        audit(user, "delivery.duplicate", delivery_id=delivery.pk, source_id=source.pk)
    return delivery


def _user_or_none(user: Actor) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None
