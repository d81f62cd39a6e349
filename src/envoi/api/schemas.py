"""Request and response shapes. Unknown fields in a request are refused by name."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field

from envoi.deliveries.models import require_consent_default, typology_default

MAX_ID = 2**63 - 1  # the largest id either database can store
MAX_RETRY_DELAY = 7 * 24 * 3600
MAX_RATE = 1_000_000  # messages per second: beyond any relay


class Strict(Schema):
    """A request body; unknown fields are refused by name."""

    model_config = ConfigDict(extra="forbid")


class RecurrenceIn(Strict):
    """A schedule: ``cron`` (5 fields), or ``every`` day/week/month ``at`` HH:MM (with
    ``weekdays`` or ``day_of_month``); in the delivery's ``time_zone``."""

    cron: str | None = Field(default=None, max_length=120)
    every: Literal["day", "week", "month"] | None = None
    at: str | None = Field(default=None, max_length=5)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(
        default=None, max_length=7)
    day_of_month: int | None = Field(default=None, ge=1, le=31)
    ends_at: datetime | None = None
    aggregation: Literal["none", "day", "week", "month"] = "none"
    request_confirmation: bool = True


# -- content authoring (envoi.content): modes, language variants, templates, images ----

ContentModeName = Literal["html", "mjml", "visual"]


class VariantIn(Strict):
    """One language's content. An empty subject or preheader takes the default's."""

    language: str = Field(min_length=2, max_length=16,
                          description="A language code: en, ko, ja, pt-br…")
    subject: str = Field(default="", max_length=998)
    preheader: str = Field(default="", max_length=500)
    html_body: str = ""
    mjml_body: str = ""
    text_body: str = ""


class VariantOut(Schema):
    language: str
    subject: str
    preheader: str
    html_body: str
    mjml_body: str
    text_body: str


class AuthoringIn(Strict):
    content_mode: ContentModeName = "html"
    preheader: str = Field(default="", max_length=500)
    mjml_body: str = ""
    visual_project: dict[str, Any] = Field(
        default_factory=dict, description="The visual editor's project, stored as is.")
    variants: list[VariantIn] = Field(default_factory=list, max_length=50)


class AuthoringPatch(Strict):
    content_mode: ContentModeName | None = None
    preheader: str | None = Field(default=None, max_length=500)
    mjml_body: str | None = None
    visual_project: dict[str, Any] | None = None
    variants: list[VariantIn] | None = Field(default=None, max_length=50)


# A finding's message may be written as words (envoi.words): the API answers in English.
EnglishSentence = Annotated[str, BeforeValidator(str)]


class FindingOut(Schema):
    level: str
    code: str
    field: str
    message: EnglishSentence
    line: int | None
    column: int | None


class AuthoringOut(Schema):
    content_mode: str
    preheader: str
    mjml_body: str
    visual_project: dict[str, Any]
    compiled_html: str
    compiled_text: str
    variants: list[VariantOut]
    variant_counts: dict[str, int] = Field(
        description="To deliver per variant at the last preparation ('': default).")
    findings: list[FindingOut] = Field(
        description="The content's findings now: what preparation would refuse.")


class PreviewIn(Strict):
    profile_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    email: str | None = Field(default=None, max_length=320)
    language: str | None = Field(default=None, max_length=16)


class PreviewLinkOut(Schema):
    url: str
    written: str
    tracked: bool


class PreviewOut(Schema):
    language: str
    profile: dict[str, Any]
    subject: str
    preheader: str
    html: str
    text: str
    links: list[PreviewLinkOut]
    size: int = Field(description="Bytes of the whole rendered message.")
    findings: list[FindingOut]


class ProofIn(Strict):
    addresses: list[str] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, max_length=16)
    profile_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    # Chosen test profiles, each receiving the proof as itself (unless profile_id).
    test_profile_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=20)


class DuplicateIn(Strict):
    label: str | None = Field(default=None, min_length=1, max_length=200)


class TemplateContent(Strict):
    """The content fields a template holds, as a delivery does."""

    content_mode: ContentModeName | None = None
    subject: str | None = Field(default=None, max_length=998)
    preheader: str | None = Field(default=None, max_length=500)
    html_body: str | None = None
    mjml_body: str | None = None
    text_body: str | None = None
    visual_project: dict[str, Any] | None = None
    variants: list[VariantIn] | None = Field(default=None, max_length=50)


class TemplateIn(TemplateContent):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    delivery_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                    description="Take the content of this delivery.")


class TemplatePatch(TemplateContent):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None


class TemplateOut(Schema):
    id: int
    name: str
    description: str
    content_mode: str
    subject: str
    preheader: str
    html_body: str
    mjml_body: str
    text_body: str
    visual_project: dict[str, Any]
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime


class TemplatePage(Schema):
    count: int
    page: int
    page_size: int
    results: list[TemplateOut]


class DeliveryFromTemplateIn(Strict):
    label: str = Field(min_length=1, max_length=200)
    sender: str = Field(min_length=1, max_length=320)
    reply_to: str = ""
    audience_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    is_marketing: bool = True
    approval_required: bool = True
    require_consent: bool = Field(default_factory=require_consent_default)


class ImageOut(Schema):
    id: str
    url: str
    content_type: str
    size: int
    width: int
    height: int


class DeliveryIn(AuthoringIn):
    label: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "sms"] = "email"
    sender: str = Field(min_length=1, max_length=320,
                        description="Email: a mailbox. SMS: a short code, a number or an "
                                    "alphanumeric ID (up to 11 characters).")
    reply_to: str = ""
    subject: str = Field(default="", max_length=998, description="Email only.")
    html_body: str = ""
    text_body: str = ""
    audience_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    is_marketing: bool = True
    approval_required: bool = True
    require_consent: bool = Field(default_factory=require_consent_default)
    typology: list[str] = Field(default_factory=typology_default, max_length=3,
                                description="Market rule sets: kr_advertising, "
                                            "jp_advertising, bulk_sender.")
    max_retries: int = Field(default=3, ge=0, le=20)
    retry_delay_seconds: int = Field(default=600, ge=1, le=MAX_RETRY_DELAY)
    validity_hours: int = Field(default=72, ge=1, le=24 * 30)
    rate_limit: int = Field(default=0, ge=0, le=MAX_RATE,
                            description="Messages per second across all workers; 0: none.")
    contact_date: datetime | None = Field(
        default=None, description="Without an offset: wall-clock time in time_zone.")
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)
    recipient_time_zone: bool = False
    recurrence: RecurrenceIn | None = None
    max_parts: int = Field(default=4, ge=0, le=255,
                           description="SMS: the most parts one message may take; 0: any.")
    track_links: bool = Field(default=False, description=(
        "SMS: each web address of the text becomes a short signed link (/s/<token>) "
        "whose clicks are counted; the click-through rate then shows in the KPIs."))


class DeliveryPatch(AuthoringPatch):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    channel: Literal["email", "sms"] | None = None
    max_parts: int | None = Field(default=None, ge=0, le=255)
    track_links: bool | None = None
    sender: str | None = Field(default=None, min_length=1, max_length=320)
    reply_to: str | None = None
    subject: str | None = Field(default=None, max_length=998)
    html_body: str | None = None
    text_body: str | None = None
    audience_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    is_marketing: bool | None = None
    approval_required: bool | None = None
    require_consent: bool | None = None
    typology: list[str] | None = Field(default=None, max_length=3)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    retry_delay_seconds: int | None = Field(default=None, ge=1, le=MAX_RETRY_DELAY)
    validity_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    rate_limit: int | None = Field(default=None, ge=0, le=MAX_RATE)
    contact_date: datetime | None = None
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)
    recipient_time_zone: bool | None = None
    recurrence: RecurrenceIn | None = None


class PreparationMessageOut(Schema):
    level: str
    code: str
    field: str
    message: str
    line: int | None
    column: int | None


class CountsOut(Schema):
    targeted: int
    to_deliver: int
    sent: int
    failed: int
    pending: int
    ignored: int
    exclusions: dict[str, int]


class RecurrenceOut(Schema):
    cron: str
    ends_at: datetime | None
    aggregation: str
    request_confirmation: bool
    confirmed_by: str
    confirmed_at: datetime | None
    sends_by_itself: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    runs: int


class DeliveryOut(AuthoringOut):
    id: int
    label: str
    channel: str
    max_parts: int
    parts: dict[str, Any] = Field(description=(
        "SMS: parts per message (min, max, total) as prepared, and the same per language "
        "variant in by_variant ('' the default)."))
    track_links: bool
    status: str
    sender: str
    reply_to: str
    subject: str
    html_body: str
    text_body: str
    audience_id: int | None
    is_marketing: bool
    approval_required: bool
    require_consent: bool
    typology: list[str]
    approval: dict[str, Any]
    rejection: dict[str, Any]
    max_retries: int
    retry_delay_seconds: int
    validity_hours: int
    rate_limit: int
    proof_count: int
    prepared_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    contact_date: datetime | None
    contact_date_local: str | None = Field(
        description="The contact date as wall-clock time in time_zone.")
    time_zone: str
    recipient_time_zone: bool
    start_at: datetime | None
    valid_until: datetime | None
    parent_id: int | None
    period: str
    recurrence: RecurrenceOut | None
    counts: CountsOut
    preparation: list[PreparationMessageOut]
    actions: list[str]


class RejectIn(Strict):
    # Required by the service (400 naming ``reason`` when blank): the preparer reads it.
    reason: str = Field("", max_length=2000)


class ProofOut(Schema):
    number: int
    recipients: list[dict[str, Any]]


class AudienceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    filter: str = ""
    kind: str = Field(default="filter", pattern="^(filter|list)$")


class AudienceOut(Schema):
    id: int
    name: str
    kind: str
    filter: str
    count: int


class ProfileOut(Schema):
    id: int
    external_id: str | None  # the key in the customer's systems; imports match on it
    email: str
    phone: str
    first_name: str
    last_name: str
    language: str
    timezone: str
    attributes: dict[str, Any]
    email_opt_out: bool
    sms_opt_out: bool
    is_test: bool
    created_at: datetime
    updated_at: datetime


class RowErrorOut(Schema):
    line: int
    reason: str


class ImportOut(Schema):
    imported: int  # created + updated
    created: int
    updated: int
    skipped: int
    error_count: int  # rejected rows
    errors: list[RowErrorOut]  # rejected rows, and in "add" mode the rows already there


class SendingLogOut(Schema):
    id: int
    profile_id: int
    address: str
    status: str
    failure_type: str
    failure_reason: str
    smtp_reply: str
    attempts: int
    message_id: str
    sent_at: datetime | None
    updated_at: datetime | None
    variant: str = ""


class ExclusionLogOut(Schema):
    id: int
    profile_id: int
    address: str
    reason: str


class Page(Schema):
    count: int
    page: int
    page_size: int


class DeliverySummaryOut(Schema):
    id: int
    label: str
    channel: str
    status: str
    targeted: int
    to_deliver: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    contact_date: datetime | None
    start_at: datetime | None
    parent_id: int | None
    period: str


class DeliveryPage(Page):
    results: list[DeliverySummaryOut]


class ExecutionOut(DeliverySummaryOut):
    counts: CountsOut


class ExecutionPage(Page):
    results: list[ExecutionOut]


class SendingLogPage(Page):
    results: list[SendingLogOut]


class ExclusionLogPage(Page):
    results: list[ExclusionLogOut]


class OutboxMessageOut(Schema):
    id: int
    received_at: datetime
    mail_from: str
    rcpt_to: list[str]
    subject: str
    size: int


class FailureOut(Schema):
    type: str
    reason: str
    count: int


class KpisOut(Schema):
    """SPEC §6, defined in :mod:`envoi.reporting.kpis`: rates are fractions in [0, 1],
    0.0 when their denominator is 0; ``*_human`` leave out machine events."""

    to_deliver: int
    sent: int
    sent_rate: float
    delivered: int
    delivered_rate: float
    failed: int
    failed_rate: float
    pending: int
    ignored: int
    opens: int
    opens_human: int
    clicks: int
    clicks_human: int
    mirror_views: int
    unsubscriptions: int
    open_rate: float
    open_rate_human: float
    click_rate: float
    click_rate_human: float
    failures_by_type: dict[str, int]
    failures_by_reason: list[FailureOut]


class SmsKpisOut(Schema):
    to_deliver: int
    sent: int
    delivered: int
    delivered_rate: float = Field(description="Delivered (by receipt) over sent.")
    errors: int
    error_rate: float = Field(description="Failed over to deliver.")
    stop_replies: int
    parts_sent: int
    clicks: int | None = Field(default=None, description=(
        "Messages with at least one click on a short link; only when the delivery tracks "
        "its links."))
    click_rate: float | None = Field(default=None, description=(
        "Clicks over the messages the SMSC took and did not report failed; only when the "
        "delivery tracks its links."))


class DeliveryKpisOut(Schema):
    delivery_id: int
    computed_at: datetime
    kpis: KpisOut
    counts: CountsOut
    channel: str = "email"
    sms: SmsKpisOut | None = None
    # How many unsubscribed from the delivery's messages per reason given (every reason,
    # zeros included; "none": one-click or no reason), live; a recurring delivery's are
    # its executions', summed.
    unsubscribe_reasons: dict[str, int] = {}


class TrackingEventOut(Schema):
    id: int
    row_id: int
    delivery_id: int
    profile_id: int
    kind: str
    link_index: int | None
    url: str
    at: datetime
    user_agent: str
    machine: bool


class TrackingLogPage(Page):
    results: list[TrackingEventOut]


class HistoryMessageOut(Schema):
    row_id: int
    delivery_id: int
    label: str
    channel: str
    date: datetime | None
    status: str
    failure_type: str
    failure_reason: str
    mirror_url: str | None


class HistoryEventOut(Schema):
    id: int
    kind: str
    url: str
    link_index: int | None
    at: datetime
    machine: bool
    delivery_id: int
    row_id: int


class HistorySmsReplyOut(Schema):
    received_at: datetime
    source: str
    text: str
    stop: bool = Field(description="The reply opted the profile out of SMS.")
    row_id: int | None


class ProfileHistoryOut(Schema):
    profile_id: int
    first_contact_at: datetime | None
    touchpoints: int
    message_count: int
    event_count: int
    messages: list[HistoryMessageOut]
    events: list[HistoryEventOut]
    sms_replies: list[HistorySmsReplyOut] = []



class VariantKpisOut(Schema):
    """The KPIs of each language variant ('' is the default), live."""

    delivery_id: int
    variants: dict[str, KpisOut]
