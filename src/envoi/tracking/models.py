from __future__ import annotations

from django.db import models


class EventKind(models.TextChoices):
    OPEN = "open"
    CLICK = "click"
    MIRROR = "mirror"
    UNSUBSCRIBE = "unsubscribe"


class TrackedLink(models.Model):
    """A link of a delivery's HTML, by its position; clicks redirect only to these.

    ``url`` is the link as written in the template: when it holds Liquid, the click
    renders it for the recipient's profile, so the target is exactly what the message
    contained.
    """

    delivery = models.ForeignKey("deliveries.Delivery", on_delete=models.CASCADE,
                                 related_name="+", db_index=False)
    index = models.IntegerField()
    url = models.TextField()
    personalized = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "index"], name="unique_link")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.index}: {self.url}"


class TrackingEvent(models.Model):
    """One open, click, mirror view or unsubscribe, tied to its sending-log row.

    Delivery and profile are copied from the row so that KPIs and histories read this
    table alone. ``machine`` marks opens and clicks made by software (privacy
    prefetchers, link scanners), which KPIs may include or exclude.
    """

    row_id = models.BigIntegerField()
    delivery_id = models.BigIntegerField()
    profile_id = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    link_index = models.IntegerField(null=True, blank=True)
    url = models.TextField(blank=True, default="")
    at = models.DateTimeField()
    user_agent = models.CharField(max_length=500, blank=True, default="")
    machine = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["delivery_id", "kind", "id"]),
            models.Index(fields=["row_id"]),
            models.Index(fields=["profile_id", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of row {self.row_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class MessageEngagement(models.Model):
    """What one message (sending-log row) drew, first time each; kept up to date as events
    arrive, rebuilt from the events by Compute stats. KPIs count these rows, so every
    rate is exact and distinct per message.
    """

    row_id = models.BigIntegerField(primary_key=True)
    delivery_id = models.BigIntegerField()
    opened_at = models.DateTimeField(null=True, blank=True)  # any open-like event
    human_opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    human_clicked_at = models.DateTimeField(null=True, blank=True)
    mirrored_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery_id"])]

    def __str__(self) -> str:
        return f"engagement of row {self.row_id}"


class EventRollup(models.Model):
    """What the removed raw events of one message (sending-log row) said, once they aged
    out (:mod:`envoi.tracking.retention`): the first time of each engagement column
    and how many events there were. Compute stats and the profile history read these
    rows together with the events still kept, so their figures do not change when
    events are removed. Several removals merge into one row (earliest times, summed
    counts).
    """

    row_id = models.BigIntegerField(primary_key=True)
    delivery_id = models.BigIntegerField()
    profile_id = models.BigIntegerField()
    events = models.IntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    human_opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    human_clicked_at = models.DateTimeField(null=True, blank=True)
    mirrored_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery_id"]), models.Index(fields=["profile_id"])]

    def __str__(self) -> str:
        return f"{self.events} removed events of row {self.row_id}"

