from __future__ import annotations

from django.db import models


class DeliveryKpis(models.Model):
    """The KPIs of a delivery as last computed (SPEC §6), with when.

    Sending counts are also read live; open and click figures are as fresh as
    ``computed_at``: the hourly job and Compute stats write this row.
    """

    delivery = models.OneToOneField("deliveries.Delivery", on_delete=models.CASCADE,
                                    primary_key=True, related_name="kpis")
    computed_at = models.DateTimeField()
    values = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"KPIs of delivery {self.delivery_id} at {self.computed_at}"


class PeriodicJob(models.Model):
    """When each periodic job last ran and is next due; workers claim a run by moving
    ``next_run_at`` forward in one conditional UPDATE, so each run happens once."""

    name = models.CharField(max_length=64, primary_key=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField()
    last_worker = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name}: next at {self.next_run_at}"
