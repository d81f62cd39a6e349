"""What the bounce path keeps: each address's standing and its history, the mail that
came back, and the qualification rules administrators add (SPEC §8)."""

from __future__ import annotations

from django.db import models


class QuarantineStatus(models.TextChoices):
    VALID = "valid"
    ERRONEOUS = "erroneous"
    QUARANTINED = "quarantined"
    DENYLISTED = "denylisted"
    ALLOWLISTED = "allowlisted"


# Statuses that preparation excludes (SPEC §3, §8).
BLOCKING_STATUSES = (QuarantineStatus.QUARANTINED, QuarantineStatus.DENYLISTED)


class Quarantine(models.Model):
    """The standing of one address (SPEC §8). Addresses are stored lower-cased.

    ``error_count`` counts soft errors, at most one per calendar day (UTC):
    ``last_counted_at`` is when the last one was counted, ``last_error_at`` when the last
    error of any kind happened (the automatic release waits from it).
    """

    channel = models.CharField(max_length=8, default="email")
    address = models.CharField(max_length=320)
    status = models.CharField(max_length=12, choices=QuarantineStatus.choices,
                              default=QuarantineStatus.VALID)
    error_count = models.IntegerField(default=0)
    reason = models.CharField(max_length=64, blank=True, default="")
    first_error_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="unique_quarantine")
        ]
        indexes = [models.Index(fields=["status", "last_error_at"])]

    def __str__(self) -> str:
        return f"{self.address}: {self.status}"


class QuarantineEvent(models.Model):
    """One step in an address's history: a transition, or a counted soft error."""

    channel = models.CharField(max_length=8, default="email")
    address = models.CharField(max_length=320)
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, choices=QuarantineStatus.choices)
    to_status = models.CharField(max_length=12, choices=QuarantineStatus.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    # sending (an SMTP reply), bounce, complaint, auto_release or manual
    source = models.CharField(max_length=16)
    error_count = models.IntegerField(default=0)
    row_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["channel", "address", "at"])]

    def __str__(self) -> str:
        return f"{self.address}: {self.from_status} -> {self.to_status} ({self.reason})"


class InboundOutcome(models.TextChoices):
    RECEIVED = "received"  # stored, not parsed yet (or parsing was interrupted)
    MATCHED = "matched"  # tied to its sending-log row
    UNMATCHED = "unmatched"  # understood, but names no row of ours
    UNPARSEABLE = "unparseable"  # neither a bounce, a complaint nor an auto-reply


class InboundKind(models.TextChoices):
    UNKNOWN = "unknown"
    DSN = "dsn"  # RFC 3464 multipart/report
    BOUNCE = "bounce"  # a non-standard failure notice
    DELAY = "delay"  # a warning that delivery is still being tried
    AUTO_REPLY = "auto_reply"
    COMPLAINT = "complaint"  # RFC 5965 feedback report


class InboundMessage(models.Model):
    """One message received for the bounce domain, stored raw *before* it is parsed,
    so that nothing that arrives is ever lost, whatever its shape."""

    received_at = models.DateTimeField()
    source = models.CharField(max_length=16, default="smtp")  # smtp or import
    mail_from = models.CharField(max_length=320, blank=True, default="")
    rcpt_to = models.JSONField(default=list)
    raw = models.BinaryField()
    size = models.IntegerField(default=0)
    subject = models.CharField(max_length=500, blank=True, default="")
    outcome = models.CharField(max_length=12, choices=InboundOutcome.choices,
                               default=InboundOutcome.RECEIVED)
    kind = models.CharField(max_length=12, choices=InboundKind.choices,
                            default=InboundKind.UNKNOWN)
    address = models.CharField(max_length=320, blank=True, default="")
    failure_type = models.CharField(max_length=8, blank=True, default="")
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    status_code = models.CharField(max_length=32, blank=True, default="")
    diagnostic = models.CharField(max_length=500, blank=True, default="")
    row_id = models.BigIntegerField(null=True, blank=True)
    delivery_id = models.BigIntegerField(null=True, blank=True)
    row_changed = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["outcome", "id"]), models.Index(fields=["row_id"]),
                   # A delivery's complaints, counted by the guards (envoi.sending.guards).
                   models.Index(fields=["delivery_id", "kind"], name="inbound_delivery_kind")]

    def __str__(self) -> str:
        return f"inbound {self.pk}: {self.outcome} {self.kind}"


class QualificationRule(models.Model):
    """A rule an administrator added; these are tried before the built-in table.

    A rule matches a reply when every condition it sets holds: the basic reply code
    (0: any), the enhanced status code (an exact code such as ``5.1.1``, a subject
    ending in a dot such as ``5.7.``, or a class alone such as ``4.``, which matches
    every reply of that class, with or without an enhanced code), and a regular
    expression searched in the reply text (case-insensitive). A rule sets at least one
    condition.

    A hard rule applies to a transient reply (4xx, or a 4.x.x status) only if it names
    a transient code itself (``smtp_code`` 4xx, or ``enhanced`` starting with ``4.``);
    it is then honoured as written, and the failure is final
    (:mod:`envoi.bounces.qualification`).
    """

    smtp_code = models.IntegerField(default=0)
    enhanced = models.CharField(max_length=16, blank=True, default="")
    pattern = models.CharField(max_length=500, blank=True, default="")
    failure_type = models.CharField(max_length=8)
    reason = models.CharField(max_length=64)
    priority = models.IntegerField(default=100)  # lower first, then oldest first
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True, default="")

    def __str__(self) -> str:
        return f"rule {self.pk}: {self.failure_type}/{self.reason}"


class InboundSms(models.Model):
    """A delivery receipt or a reply (MO message) that came in over SMPP.

    Receipts are matched to the part they report by ``message_id``; replies to the
    profile by number. Those that match nothing are kept with ``outcome`` unmatched
    and listed, as unmatched bounces are.
    """

    RECEIPT, REPLY = "receipt", "reply"

    received_at = models.DateTimeField()
    kind = models.CharField(max_length=8)
    smsc = models.CharField(max_length=300, blank=True, default="")
    source = models.CharField(max_length=32, blank=True, default="")
    destination = models.CharField(max_length=32, blank=True, default="")
    text = models.TextField(blank=True, default="")
    message_id = models.CharField(max_length=65, blank=True, default="")
    stat = models.CharField(max_length=8, blank=True, default="")
    outcome = models.CharField(max_length=12, choices=InboundOutcome.choices,
                               default=InboundOutcome.RECEIVED)
    row_id = models.BigIntegerField(null=True, blank=True)
    profile_id = models.BigIntegerField(null=True, blank=True)
    stop = models.BooleanField(default=False, help_text="A reply that opted out.")

    class Meta:
        indexes = [models.Index(fields=["outcome", "received_at"], name="inboundsms_outcome")]

    def __str__(self) -> str:
        return f"{self.kind} from {self.source}: {self.stat or self.text[:40]}"
