from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Status(models.TextChoices):
    EDITING = "editing"
    PREPARING = "preparing"
    PREPARATION_FAILED = "preparation_failed"
    READY = "ready"  # prepared; ready to be delivered
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    START_PENDING = "start_pending"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


def require_consent_default() -> bool:
    return settings.ENVOI_REQUIRE_CONSENT


def typology_default() -> list[str]:
    from envoi.preparation.rules import default_typology

    return default_typology()


class Delivery(models.Model):
    """A message to an audience, and where it stands in its lifecycle (SPEC §2).

    ``status`` is written only by :mod:`envoi.deliveries.lifecycle`.
    """

    EMAIL = "email"
    SMS = "sms"
    CHANNEL_CHOICES = [(EMAIL, "email"), (SMS, "sms")]

    label = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=CHANNEL_CHOICES, default=EMAIL)
    sender = models.CharField(max_length=320)
    reply_to = models.CharField(max_length=320, blank=True, default="")
    subject = models.CharField(max_length=998)
    html_body = models.TextField(blank=True, default="")
    text_body = models.TextField(blank=True, default="")
    # Authoring (envoi.content): how the default variant is written, and what it
    # compiles to. The compiled HTML and text feed the sending pipeline unchanged.
    content_mode = models.CharField(max_length=8, default="html")
    preheader = models.CharField(max_length=500, blank=True, default="")
    mjml_body = models.TextField(blank=True, default="")
    visual_project = models.JSONField(default=dict, blank=True)
    compiled_html = models.TextField(blank=True, default="")
    compiled_text = models.TextField(blank=True, default="")
    variant_counts = models.JSONField(default=dict, blank=True,
                                      help_text="To-deliver count per language variant.")
    audience = models.ForeignKey("audiences.Audience", null=True, blank=True,
                                 on_delete=models.PROTECT)
    is_marketing = models.BooleanField(
        default=True, help_text="Marketing messages must carry an unsubscribe link.")
    approval_required = models.BooleanField(default=True)
    # Preparation excludes profiles without recorded consent (envoi.consent) from a
    # marketing delivery; new deliveries follow ENVOI_REQUIRE_CONSENT.
    require_consent = models.BooleanField(default=require_consent_default)
    # Market rule sets preparation checks (envoi.preparation.rules); new deliveries
    # follow ENVOI_DEFAULT_TYPOLOGY.
    typology = models.JSONField(default=typology_default, blank=True)
    # SMS (envoi.sending.channels.sms): the most parts one recipient's message may take
    # (a red control rule; 0: no limit), and the parts counted by preparation.
    max_parts = models.IntegerField(default=4)
    parts = models.JSONField(default=dict, blank=True,
                             help_text="SMS parts per message: min, max and total, and per "
                             "language variant.")
    # SMS: each web address of the text becomes a short signed link (/s/<token>) that
    # counts its clicks (envoi.sending.channels.sms.links); off, the text goes as written.
    track_links = models.BooleanField(default=False)

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.EDITING,
                              db_index=True)
    targeted = models.IntegerField(default=0)
    to_deliver = models.IntegerField(default=0)
    exclusions = models.JSONField(default=dict, blank=True)
    prepared_hash = models.CharField(max_length=64, blank=True, default="")
    prepared_at = models.DateTimeField(null=True, blank=True)
    approval = models.JSONField(default=dict, blank=True,
                                help_text="Frozen snapshot taken at approval.")
    # The last rejection ({by, at, reason}) until the delivery is approved: what the
    # preparer must correct. Every rejection is also in the audit log.
    rejection = models.JSONField(default=dict, blank=True)
    proof_count = models.IntegerField(default=0)

    max_retries = models.IntegerField(default=3)
    retry_delay_seconds = models.IntegerField(default=600)
    validity_hours = models.IntegerField(default=72)
    rate_limit = models.IntegerField(
        default=0, help_text="Messages per second across all workers; 0: no limit.")

    # Schedule (SPEC §4). The contact date is stored as an instant; it was entered as a
    # wall-clock time in ``time_zone``, which recurring schedules also run in.
    contact_date = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    recipient_time_zone = models.BooleanField(
        default=False, help_text="Each profile receives it at the contact date's "
                                 "wall-clock time in its own time zone.")
    start_at = models.DateTimeField(null=True, blank=True,
                                    help_text="When sending begins; set by preparation.")
    valid_until = models.DateTimeField(null=True, blank=True,
                                       help_text="Messages not sent by then fail; set at "
                                                 "the start of sending.")
    # An execution of a recurring delivery names its parent and its aggregation period.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="executions")
    period = models.CharField(max_length=32, blank=True, default="")
    # The ids of its sending-log rows lie between these two (preparation writes them in
    # one statement, a top-up in another): the worker's claims carry them as literal
    # bounds, so that on PostgreSQL they are planned over the partitions holding the
    # delivery only. NULL: not known (rows written by an earlier release), and claims
    # run unbounded.
    log_first_id = models.BigIntegerField(null=True, blank=True)
    log_last_id = models.BigIntegerField(null=True, blank=True)
    # Hidden from lists; its logs, links and history stay (a sent delivery is never
    # deleted: SPEC, issue 16 item 6).
    archived_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The last guard of "each run fires once": one execution per period.
            models.UniqueConstraint(fields=["parent", "period"],
                                    condition=models.Q(parent__isnull=False),
                                    name="one_execution_per_period"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_recurring(self) -> bool:
        return Recurrence.objects.filter(delivery_id=self.pk).exists()


class Aggregation(models.TextChoices):
    NONE = "none"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Recurrence(models.Model):
    """The schedule of a recurring delivery, which spawns executions (SPEC §4).

    ``next_run_at`` is the claim: a worker fires a run by moving it forward with a
    conditional UPDATE in the same transaction that creates the run's execution.
    """

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE,
                                    related_name="recurrence")
    cron = models.CharField(max_length=120)
    ends_at = models.DateTimeField(null=True, blank=True)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices,
                                   default=Aggregation.NONE)
    request_confirmation = models.BooleanField(
        default=True, help_text="With no aggregation period: each run waits after "
                                "preparation for a Start-deliveries user to confirm it.")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    runs = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.cron} ({self.delivery_id})"

    @property
    def sends_by_itself(self) -> bool:
        """Runs start sending without a per-run confirmation (SPEC §4)."""
        confirmation_asked = (self.request_confirmation
                              and self.aggregation == Aggregation.NONE)
        return self.confirmed_at is not None and not confirmation_asked


class PreparationMessage(models.Model):
    """A finding of the control rules: red errors block sending, yellow warnings do not."""

    ERROR = "error"
    WARNING = "warning"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE,
                                 related_name="preparation_messages")
    level = models.CharField(max_length=8)
    code = models.CharField(max_length=48)
    field = models.CharField(max_length=32, blank=True, default="")
    message = models.TextField()  # English: what the API answers
    # The message's template and values (envoi.words.Words.as_json), for the console to
    # say it in the reader's language; null for a message that has no words.
    words = models.JSONField(null=True, blank=True)
    line = models.IntegerField(null=True, blank=True)
    column = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"

    @property
    def sentence(self) -> Any:
        """The message as words to translate, or as stored when it has none."""
        from envoi.words import Words

        return Words.from_json(self.words) if self.words else self.message


class Proof(models.Model):
    """One proof: the prepared message sent to the test profiles, outside the KPIs."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="proofs")
    number = models.IntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"proof {self.number} of delivery {self.delivery_id}"
