"""Deleting many old rows without one long transaction (retention, any app)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

BATCH = 5000


def delete_in_batches(rows: QuerySet, batch: int = BATCH) -> int:
    """Delete ``rows`` by ascending id, ``batch`` at a time, each batch committed on its
    own (writers are never held up for long); how many were deleted."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return total
            total += rows.model.objects.filter(pk__in=ids).delete()[0]
