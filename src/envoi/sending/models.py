from __future__ import annotations

from django.db import models


class SendStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    IGNORED = "ignored"


class FailureType(models.TextChoices):
    HARD = "hard"
    SOFT = "soft"
    IGNORED = "ignored"


class SendingLog(models.Model):
    """One row per delivery × profile: the ledger, and the work queue.

    A row is *claimed* while ``lease_until`` lies in the future; a worker that dies
    simply lets its lease run out and another takes the row.
    """

    # Both keys are covered by the composite indexes below; a second index on each
    # would only slow down preparation and sending.
    delivery = models.ForeignKey("deliveries.Delivery", on_delete=models.CASCADE,
                                 related_name="+", db_index=False)
    profile = models.ForeignKey("audiences.Profile", on_delete=models.CASCADE,
                                related_name="+", db_constraint=False, db_index=False)
    address = models.CharField(max_length=320)
    status = models.CharField(max_length=10, choices=SendStatus.choices,
                              default=SendStatus.PENDING)
    failure_type = models.CharField(max_length=8, choices=FailureType.choices, blank=True,
                                    default="")
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    smtp_reply = models.CharField(max_length=500, blank=True, default="")
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    message_id = models.CharField(max_length=250, blank=True, default="")
    variant = models.CharField(max_length=16, blank=True, default="", db_default="",
                               help_text="The language variant it is sent in; '': default.")
    # The relay's own id of the message, from its 250 reply ("250 Ok <id>", "queued as
    # <id>"): provider webhooks that name only that id find their row by it. NULL, not
    # "", when there is none: the partial index then holds only rows that have one.
    provider_message_id = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["delivery", "status"]),
            models.Index(fields=["profile", "id"]),
            # The queue: workers scan only the pending rows of one delivery, in id order.
            models.Index(fields=["delivery", "id"], condition=models.Q(status="pending"),
                         name="sendinglog_queue"),
            models.Index(fields=["provider_message_id"],
                         condition=models.Q(provider_message_id__isnull=False),
                         name="sendinglog_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.address}: {self.status}"


class OutboxMessage(models.Model):
    """A message caught by the embedded capture SMTP server (embedded shape only)."""

    received_at = models.DateTimeField(auto_now_add=True)
    mail_from = models.CharField(max_length=320)
    rcpt_to = models.JSONField(default=list)
    subject = models.TextField(blank=True, default="")
    data = models.BinaryField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.rcpt_to}: {self.subject}"


class RelaySlot(models.Model):
    """One of a relay's ``max_connections`` connections, leased by a worker.

    Workers on any host hold a slot for each session they keep open to a capped relay,
    so the cap holds across all of them; a dead worker's slots expire with their lease.
    """

    relay = models.CharField(max_length=300)
    slot = models.IntegerField()
    holder = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["relay", "slot"],
                                               name="unique_relay_slot")]

    def __str__(self) -> str:
        return f"{self.relay}#{self.slot}: {self.holder or 'free'}"


class RateBucket(models.Model):
    """A shared rate limit (per delivery, per recipient domain): the theoretical
    arrival time of the next message under the generic cell rate algorithm."""

    key = models.CharField(max_length=300, unique=True)
    next_free_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.next_free_at}"


# The email channel's own tables live beside its code; loaded here so the app sees them.
from envoi.sending.email.models import DkimAlgorithm, DkimKey, SendingDomain  # noqa: E402, F401


class SmsPart(models.Model):
    """One part of a sent SMS: the SMSC's ``message_id`` for it, and what its delivery
    receipt said. A message counts as delivered once every one of its parts is."""

    row_id = models.BigIntegerField()
    sequence = models.IntegerField()  # 1-based, as in the concatenation header
    message_id = models.CharField(max_length=65)
    smsc = models.CharField(max_length=300, blank=True, default="")
    stat = models.CharField(max_length=8, blank=True, default="")  # DELIVRD, UNDELIV, ...
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["message_id"], name="smspart_message_id"),
                   models.Index(fields=["row_id"], name="smspart_row")]

    def __str__(self) -> str:
        return f"{self.row_id}/{self.sequence}: {self.message_id} {self.stat}"


class OutboxSms(models.Model):
    """An SMS caught by the embedded capture SMSC (embedded shape only), its parts
    joined again."""

    received_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=32)
    destination = models.CharField(max_length=32)
    text = models.TextField(blank=True, default="")
    encoding = models.CharField(max_length=8)
    parts = models.IntegerField(default=1)
    message_ids = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.destination}: {self.text[:40]}"
# The profile id of an anonymised sending-log row: no profile has it.
DETACHED_PROFILE = 0


class ProfileMessageSummary(models.Model):
    """What anonymised sending-log rows said about one profile's history: how many
    messages, how many went out, and when the first one that went out was sent. The
    profile history adds these to the rows still attached to the profile
    (:mod:`envoi.sending.retention`)."""

    profile_id = models.BigIntegerField(primary_key=True)
    messages = models.IntegerField(default=0)
    touchpoints = models.IntegerField(default=0)
    first_contact_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile {self.profile_id}: {self.messages} anonymised messages"


class AnonymisedDelivery(models.Model):
    """A delivery whose sending-log rows were anonymised, when, and how many rows: the
    retention job does each delivery once."""

    delivery_id = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField()
    rows = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"delivery {self.delivery_id}: {self.rows} rows anonymised at {self.at}"
