"""Console forms. They check shape only (lengths, choices); every rule of the product is
the core service's, and its refusal is shown on the form, next to the field it names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.forms.fields import BaseTemporalField
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from envoi.accounts.roles import Role
from envoi.audiences.models import Audience
from envoi.content.models import ContentMode
from envoi.deliveries import recurring
from envoi.deliveries.models import Delivery, require_consent_default, typology_default
from envoi.web import schedule
from envoi.web.errors import refusal_detail
from envoi.web.labels import AGGREGATION_LABELS, ROLE_LABELS

WALL_CLOCK_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


class WallClockField(forms.DateTimeField):
    """A date and time as typed: a wall-clock time in the delivery's own time zone,
    which the core reads. Never converted to the reader's zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=WALL_CLOCK_FORMATS[0])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=WALL_CLOCK_FORMATS, **kwargs)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        return BaseTemporalField.to_python(self, str(value).strip())


MODE_CHOICES = [(ContentMode.VISUAL, _("Visual editor")), (ContentMode.MJML, _("MJML source")),
                (ContentMode.HTML, _("HTML"))]


def _day_choices() -> list[tuple[str, str]]:
    return [(name, schedule.day_label(name)) for name in schedule.DAY_NAMES]


class DeliveryForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=200)
    channel = forms.ChoiceField(label=_("Channel"), initial="email", required=False,
                                choices=[("email", _("Email")), ("sms", _("SMS"))])
    # Only the label is needed to keep a draft: what else is missing or wrong is a
    # finding shown on its field, and preparation is what it blocks.
    sender = forms.CharField(label=_("Sender"), max_length=320, required=False,
                             help_text=_("For example: Shop <news@shop.example.com>; for "
                                         "SMS, a short code, a number or a name of up to "
                                         "11 characters"))
    reply_to = forms.CharField(label=_("Reply to"), max_length=320, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=998, required=False)
    audience = forms.ModelChoiceField(label=_("Audience"), queryset=Audience.objects.none(),
                                      required=False, empty_label=_("(none)"))
    content_mode = forms.ChoiceField(label=_("Write the email with"), required=False,
                                     choices=MODE_CHOICES, initial=ContentMode.VISUAL,
                                     widget=forms.RadioSelect)
    preheader = forms.CharField(label=_("Preheader"), max_length=500, required=False,
                                help_text=_("Shown after the subject in the inbox."))
    # Content is kept exactly as typed: a stripped newline would be a change of content.
    html_body = forms.CharField(label=_("HTML content"), required=False, strip=False,
                                widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}))
    mjml_body = forms.CharField(label=_("MJML source"), required=False, strip=False,
                                widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}))
    text_body = forms.CharField(label=_("Text content"), required=False, strip=False,
                                help_text=_("Left empty, it is made from the HTML."),
                                widget=forms.Textarea(attrs={"rows": 6}))
    is_marketing = forms.BooleanField(
        label=_("Marketing message (must carry an unsubscribe link)"), required=False,
        initial=True)
    approval_required = forms.BooleanField(label=_("Approval required before sending"),
                                           required=False, initial=True)
    require_consent = forms.BooleanField(
        label=_("Send only to profiles with recorded consent"), required=False,
        initial=require_consent_default,
        help_text=_("Marketing messages only: the other profiles are excluded for "
                    "lack of consent."))
    typology = forms.MultipleChoiceField(
        label=_("Market rules"), required=False, initial=typology_default,
        widget=forms.CheckboxSelectMultiple, choices=[
            ("kr_advertising", _("Korean advertising (kr_advertising)")),
            ("jp_advertising", _("Japanese advertising (jp_advertising)")),
            ("bulk_sender", _("Bulk sender (bulk_sender)"))],
        help_text=_("Preparation checks them. An audience in Korean calls for Korean "
                    "advertising, one in Japanese for Japanese advertising."))
    # Schedule (SPEC §4): a contact date, or a recurring schedule; the core decides
    # which combinations hold and says why the others do not.
    contact_date = WallClockField(
        label=_("Contact date"), required=False,
        help_text=_("Leave it empty to send as soon as the send is confirmed."))
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, initial="UTC", required=False,
        help_text=_("The contact date and the recurring schedule are read in this time "
                    "zone."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off",
                                      "spellcheck": "false"}))
    recipient_time_zone = forms.BooleanField(
        label=_("Send at the recipient's time zone"), required=False,
        help_text=_("Each profile receives it at the contact date's time of day in its own "
                    "time zone; profiles without one use the time zone above."))
    recurring = forms.BooleanField(label=_("Recurring delivery"), required=False)
    every = forms.ChoiceField(label=_("Repeat"), required=False, initial="day", choices=[
        ("day", _("Every day")), ("week", _("Every week")), ("month", _("Every month")),
        ("cron", _("Cron expression"))])
    at = forms.CharField(label=_("At"), max_length=5, required=False, initial="09:00",
                         widget=forms.TextInput(attrs={"type": "time"}))
    weekdays = forms.MultipleChoiceField(
        label=_("Days of the week"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=_day_choices)
    day_of_month = forms.IntegerField(label=_("Day of the month"), required=False,
                                      min_value=1, max_value=31)
    cron = forms.CharField(
        label=_("Cron expression"), max_length=120, required=False,
        help_text=_("Five fields: minute, hour, day of the month, month, day of the week."),
        widget=forms.TextInput(attrs={"placeholder": "0 9 * * 1-5", "spellcheck": "false"}))
    aggregation = forms.ChoiceField(
        label=_("Aggregation period"), required=False, initial="none",
        choices=list(AGGREGATION_LABELS.items()),
        help_text=_("Runs of one period share one execution and one preparation; with "
                    "none, every run is prepared afresh."))
    request_confirmation = forms.BooleanField(
        label=_("Request confirmation before sending"), required=False, initial=True,
        help_text=_("With no aggregation period only: each run is prepared, then waits for "
                    "a user with the Start deliveries role to confirm it."))
    ends_at = WallClockField(label=pgettext_lazy("schedule", "Ends"), required=False,
                             help_text=_("Optional: no run after this date and time."))

    max_parts = forms.IntegerField(
        label=_("Most parts per SMS"), required=False, initial=4, min_value=0, max_value=255,
        help_text=_("Preparation fails when a recipient's SMS would take more parts; "
                    "0: no limit."))
    track_links = forms.BooleanField(
        label=_("Shorten and track the links"), required=False,
        help_text=_("Each web address of the SMS becomes a short link that counts its "
                    "clicks; the parts are counted with the short links."))

    MESSAGE_FIELDS = ("label", "channel", "sender", "reply_to", "audience", "is_marketing",
                      "approval_required", "require_consent", "typology")
    # The default variant's content; the language variants have the same fields.
    CONTENT_FIELDS = ("content_mode", "subject", "preheader", "html_body", "mjml_body",
                      "text_body")
    SMS_FIELDS = ("max_parts", "track_links")
    SCHEDULE_FIELDS = ("contact_date", "time_zone", "recipient_time_zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audience"].queryset = Audience.objects.order_by("name")  # type: ignore[attr-defined]

    def clean_content_mode(self) -> str:
        # A form that does not say (an older page, a script) writes HTML, as before.
        return self.cleaned_data["content_mode"] or ContentMode.HTML

    def clean_html_body(self) -> str:
        return self.cleaned_data["html_body"].replace("\r\n", "\n")  # as browsers send

    def clean_mjml_body(self) -> str:
        return self.cleaned_data["mjml_body"].replace("\r\n", "\n")

    def clean_text_body(self) -> str:
        return self.cleaned_data["text_body"].replace("\r\n", "\n")

    @property
    def message_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.MESSAGE_FIELDS]

    @property
    def schedule_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.SCHEDULE_FIELDS]

    @property
    def zone_names(self) -> list[str]:
        return schedule.zone_names()

    def message(self) -> dict[str, Any]:
        fields = {name: self.cleaned_data[name]
                  for name in self.MESSAGE_FIELDS + self.CONTENT_FIELDS}
        fields["channel"] = fields["channel"] or "email"
        if self.cleaned_data.get("max_parts") is not None:
            fields["max_parts"] = self.cleaned_data["max_parts"]
        fields["track_links"] = bool(self.cleaned_data.get("track_links"))
        return fields

    @property
    def short_link_length(self) -> int:
        """Characters a short link takes in an SMS (the console's counter budgets it)."""
        from envoi.tracking.short import length

        return length()

    def schedule(self) -> dict[str, Any]:
        """The schedule as the core (and the API) take it."""
        data = self.cleaned_data
        return {"contact_date": data["contact_date"], "time_zone": data["time_zone"] or "UTC",
                "recipient_time_zone": data["recipient_time_zone"],
                "recurrence": self.recurrence() if data["recurring"] else None}

    def recurrence(self) -> dict[str, Any]:
        """The ``recurrence`` of the API: ``cron``, or ``every`` + ``at`` (+ days);
        the aggregation period; Request confirmation before sending, which only a
        schedule without an aggregation period has; the end."""
        data = self.cleaned_data
        every = data["every"] or "day"
        found: dict[str, Any]
        if every == "cron":
            found = {"cron": data["cron"]}
        else:
            found = {"every": every, "at": data["at"]}
            if every == "week" and data["weekdays"]:
                found["weekdays"] = data["weekdays"]
            if every == "month" and data["day_of_month"]:
                found["day_of_month"] = data["day_of_month"]
        found["aggregation"] = data["aggregation"] or "none"
        if found["aggregation"] == "none":
            found["request_confirmation"] = data["request_confirmation"]
        if data["ends_at"] is not None:
            found["ends_at"] = data["ends_at"]
        return found

    # What the core calls the fields it names in a refusal, when the form does not.
    CORE_FIELDS = {"recurrence": "every", "audience_id": "audience"}

    def show_refusal(self, message: str) -> None:
        """Attach the core's refusal to the field it names ("subject: ...",
        "recurrence.at: ..."), if any, in the reader's language where it can be."""
        named, _, rest = message.partition(":")
        field = self.CORE_FIELDS.get(named, named.removeprefix("recurrence."))
        if field in self.fields and rest:
            self.add_error(field, refusal_detail(named, rest.strip()))
        else:
            self.add_error(None, message)


def delivery_initial(delivery: Delivery) -> dict[str, Any]:
    """The form's fields as the delivery stands (its schedule in its own time zone)."""
    fields = DeliveryForm.MESSAGE_FIELDS + DeliveryForm.CONTENT_FIELDS + DeliveryForm.SMS_FIELDS
    initial = {name: getattr(delivery, name) for name in fields}
    initial.update(contact_date=schedule.wall(delivery.contact_date, delivery.time_zone),
                   time_zone=delivery.time_zone,
                   recipient_time_zone=delivery.recipient_time_zone)
    spec = recurring.spec_of(delivery)
    if spec is None:
        return initial
    simple = schedule.simple(spec.cron)
    initial.update(recurring=True, aggregation=spec.aggregation,
                   request_confirmation=spec.request_confirmation,
                   ends_at=schedule.wall(spec.ends_at, delivery.time_zone))
    if simple is None:
        initial.update(every="cron", cron=spec.cron)
    else:
        initial.update(every=simple.every, at=simple.at, weekdays=simple.weekdays,
                       day_of_month=simple.day_of_month, cron=spec.cron)
    return initial


class AudienceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    filter = forms.CharField(
        label=_("Filter"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false",
                                     "placeholder": 'language = "ko" and attributes.vip = true'}))
    # An empty filter selects every profile: the console asks for that choice to be said.
    everyone = forms.BooleanField(label=_("Everyone: every profile, with no condition"),
                                  required=False)


ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]


class UserForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    roles = forms.MultipleChoiceField(label=_("Roles"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        if User.objects.filter(username=name).exists():
            raise forms.ValidationError(_("A user with this name exists already."))
        return name

    def clean_password(self) -> str:
        """The password rules of every face (``AUTH_PASSWORD_VALIDATORS``)."""
        from envoi.accounts.services import validate_new_password

        password = self.cleaned_data["password"]
        validate_new_password(password, User(username=self.cleaned_data.get("username", "")))
        return password


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(label=_("Roles"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)
