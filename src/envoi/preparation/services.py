"""Preparation (SPEC §3): control rules, then targeting, then the verdict."""

from __future__ import annotations

from django.db import transaction

from envoi import clock
from envoi.deliveries import lifecycle
from envoi.deliveries.content import content_hash
from envoi.deliveries.models import Delivery, PreparationMessage
from envoi.preparation.control import ERROR, Finding, check_delivery
from envoi.preparation.targeting import build_target
from envoi.tracking.services import store_tracked_links


def prepare_delivery(delivery: Delivery) -> Delivery:
    """Build the sending log of a delivery in Preparing and decide where it goes next."""
    from envoi.audiences.filters import FilterError
    from envoi.deliveries.services import discard_preparation

    findings = check_delivery(delivery)
    if delivery.audience is None:
        findings.append(Finding(ERROR, "audience.missing", "The delivery has no audience.",
                                "audience"))
    counts = None
    with transaction.atomic():
        discard_preparation(delivery)
        store_tracked_links(delivery)
        if delivery.audience is not None:
            try:
                counts = build_target(delivery.pk, delivery.audience)
            except FilterError as error:
                findings.append(Finding(ERROR, "audience.filter",
                                        f"Audience filter: {error}", "audience"))
        _store_findings(delivery, findings)
    failed = any(f.level == ERROR for f in findings)
    fields = {"prepared_at": clock.now(), "prepared_hash": "" if failed else
              content_hash(delivery)}
    if counts is not None:
        fields.update(targeted=counts.targeted, to_deliver=counts.to_deliver,
                      exclusions=counts.exclusions)
    if failed:
        move = "preparation_failed"
    else:
        move = "await_approval" if delivery.approval_required else "prepared"
    return lifecycle.apply(delivery, move, **fields)


def _store_findings(delivery: Delivery, findings: list[Finding]) -> None:
    PreparationMessage.objects.bulk_create(
        PreparationMessage(delivery=delivery, level=f.level, code=f.code, field=f.field,
                           message=f.message, line=f.line, column=f.column)
        for f in findings
    )
