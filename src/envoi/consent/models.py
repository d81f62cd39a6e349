"""What Envoi holds about a person's consent (SPEC §13): the current standing of each
profile on each channel, every move that led to it (the proof), the keyed hashes of
erased addresses, and the reasons people give when they unsubscribe.

``Consent.status`` is written only by :mod:`envoi.consent.lifecycle`.
"""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"


class ConsentStatus(models.TextChoices):
    NONE = "none"  # a record exists, but consent was never given
    PENDING = "pending"  # asked for on a form; waits for the confirmation link
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Purpose(models.TextChoices):
    """What a consent allows. Marketing on the channel is the consent the rest of
    Envoi asks about; night-time advertising (Korea, 정보통신망법 §50③) is a separate
    consent, kept with the same proof, that lets ``kr_advertising`` rows arrive between
    21:00 and 08:00. It never opts a profile in or out of the channel by itself."""

    MARKETING = "marketing"
    NIGHT = "night"


class Source(models.TextChoices):
    IMPORT = "import"
    FORM = "form"
    API = "api"
    CONSOLE = "console"
    LINK = "link"  # the unsubscribe link or preference centre of a message


class Consent(models.Model):
    """One profile's standing on one channel for one purpose; its history is in
    :class:`ConsentEvent`."""

    profile = models.ForeignKey("audiences.Profile", on_delete=models.CASCADE,
                                related_name="+", db_index=False)  # see the constraint
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=10, choices=Purpose.choices,
                               default=Purpose.MARKETING)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices,
                              default=ConsentStatus.NONE)
    source = models.CharField(max_length=8, choices=Source.choices, blank=True, default="")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "channel", "purpose"],
                                               name="one_consent_per_channel_purpose")]
        indexes = [models.Index(fields=["channel", "status", "profile"]),
                   # The consents due for a reconfirmation (envoi.consent.notices).
                   models.Index(fields=["purpose", "status", "updated_at"],
                                name="consent_reconfirm_idx")]

    def __str__(self) -> str:
        return f"profile {self.profile_id} {self.channel} {self.purpose}: {self.status}"


class ConsentEvent(models.Model):
    """One move of a consent, kept as proof: who (source, IP, browser), when, and the
    exact wording the person was shown."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="events")
    move = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True, default="")
    wording = models.TextField(blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        # The recent changes whose result is told (envoi.consent.notices); imports,
        # never told, are left out of the index.
        indexes = [models.Index(fields=["at"], name="consent_event_told_idx",
                                condition=~models.Q(source="import"))]

    def __str__(self) -> str:
        return f"{self.move} ({self.source}) at {self.at:%Y-%m-%d %H:%M:%S}"


class Suppression(models.Model):
    """An erased address, kept only as a keyed hash (:mod:`envoi.consent.hashing`):
    preparation excludes any profile with that address until it consents again."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "address_hash"],
                                               name="unique_suppression")]

    def __str__(self) -> str:
        return f"{self.channel} {self.address_hash[:12]}…"


class Erasure(models.Model):
    """That a profile was erased, and when; nothing that identified the person."""

    profile_id = models.BigIntegerField(unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"profile {self.profile_id} erased at {self.at:%Y-%m-%d}"


class UnsubscribeReason(models.TextChoices):
    TOO_MANY = "too_many"
    NOT_RELEVANT = "not_relevant"
    NEVER_SIGNED_UP = "never_signed_up"
    OTHER = "other"
    NONE = "none"  # no reason given (one-click, or left blank)


class Unsubscription(models.Model):
    """One unsubscribe from a message, with the reason given: counted per delivery."""

    delivery_id = models.BigIntegerField()
    row_id = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=UnsubscribeReason.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["delivery_id", "reason"])]

    def __str__(self) -> str:
        return f"row {self.row_id} of delivery {self.delivery_id}: {self.reason}"


class PublicList(models.Model):
    """A static list people may join or leave themselves (subscription form and
    preference centre), under the name they see."""

    audience = models.OneToOneField("audiences.Audience", on_delete=models.CASCADE,
                                    related_name="+")
    title = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.title


class NoticeKind(models.TextChoices):
    RECONFIRM = "reconfirm"  # consent two years old: still wanted? (정보통신망법 §50⑧)
    GRANTED = "granted"  # the result of an opt-in (§50⑦)
    WITHDRAWN = "withdrawn"  # the result of an opt-out


class NoticeStatus(models.TextChoices):
    SENDING = "sending"  # claimed and committed before the relay was asked
    SENT = "sent"
    FAILED = "failed"  # the relay refused it, or none could be reached: tried again


class ConsentNotice(models.Model):
    """One notice about a consent, sent at most once: the ledger of
    :mod:`envoi.consent.notices`. ``period`` names what it is about: the consent date
    and the two-year cycle of a reconfirmation, or the event whose result it tells."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=10, choices=NoticeKind.choices)
    period = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=NoticeStatus.choices)
    due_at = models.DateTimeField()  # when it had to go: the cycle's date, or the change's
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    language = models.CharField(max_length=8, blank=True, default="")
    reply = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consent", "kind", "period"],
                                               name="one_notice_per_consent_kind_period")]
        indexes = [models.Index(fields=["due_at"]), models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} notice of consent {self.consent_id} ({self.period}): {self.status}"


class RateCounter(models.Model):
    """How often one client address posted the subscription form, or one email address
    was sent a confirmation, in one clock hour (:mod:`envoi.consent.ratelimit`). The
    key is a keyed hash: the table holds neither addresses nor IPs."""

    key = models.CharField(max_length=64)
    window = models.DateTimeField()  # the start of the hour counted
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"],
                                               name="one_counter_per_key_and_hour")]
        indexes = [models.Index(fields=["window"])]

    def __str__(self) -> str:
        return f"{self.key[:12]}… at {self.window:%Y-%m-%d %H:00}: {self.count}"


class BrandSettings(models.Model):
    """The sender's brand as set in the console (one row, ``pk`` 1); what it leaves
    empty comes from the ``ENVOI_BRAND_*`` environment variables
    (:mod:`envoi.consent.brand`)."""

    name = models.CharField(max_length=200, blank=True, default="")
    logo = models.ForeignKey("content.Image", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    color = models.CharField(max_length=7, blank=True, default="")
    footer = models.TextField(blank=True, default="")
    # What the Korean and Japanese advertising rules look for in a message.
    address = models.CharField(max_length=300, blank=True, default="")
    contact = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"brand {self.name or '(environment)'}"
