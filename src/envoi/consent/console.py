"""The console's side of consent: a profile's consent given or withdrawn on the
person's word, its erasure and its data export, and the subscription form's page (the
hosted form's address, the snippet to embed, and which lists people may join).

Each action calls the core function the API and CLI call, which checks the same
permission; a refusal answers the refusal page (403), audited."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_POST

from envoi import clock
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent import compliance, editing, erasure, notices, services
from envoi.consent.models import Channel, PublicList, Purpose, Source
from envoi.consent.pages import brand
from envoi.web.views.common import get_or_404, requires

MAX_WORDING = 5000


@require_POST
@requires("consent.record")
def profile_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record consent given (or withdrawn) as the person said it, source ``console``."""
    profile = get_or_404(Profile, pk)
    channel = request.POST.get("channel", "")
    purpose = request.POST.get("purpose", Purpose.MARKETING)
    status = request.POST.get("status", "")
    wording = request.POST.get("wording", "").strip()[:MAX_WORDING]
    back = reverse("web:profile", args=[profile.pk])
    if (channel not in Channel.values or purpose not in Purpose.values
            or status not in ("granted", "withdrawn")):
        messages.error(request, _("Choose a channel and whether consent was given or "
                                  "withdrawn."))
        return redirect(back)
    if status == "granted" and not wording:
        messages.error(request, _("Consent: write down what the person agreed to, as "
                                  "proof."))
        return redirect(back)
    evidence = services.Evidence(Source.CONSOLE, wording=wording)
    if status == "granted":
        services.give_consent(request.user, profile, channel, evidence, purpose)
        messages.success(request, _("Consent was recorded."))
    else:
        services.take_back_consent(request.user, profile, channel, evidence, purpose)
        messages.success(request, _("Consent was withdrawn."))
    return redirect(back)


@require_POST
@requires("consent.erase")
def profile_erase(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_or_404(Profile, pk)
    if request.POST.get("confirm") != "on":
        messages.error(request, _("Tick the box to confirm the erasure."))
        return redirect("web:profile", profile.pk)
    try:
        erasure.erase_profile(request.user, profile)
    except erasure.AlreadyErased:
        messages.error(request, _("This profile was already erased."))
    else:
        messages.success(request, _("The profile was erased. Its address is kept only as "
                                    "a keyed hash, so that it is not contacted again."))
    return redirect("web:profile", profile.pk)


@require_GET
@requires("consent.export")
def profile_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything held about the person, as a JSON download."""
    profile = get_or_404(Profile, pk)
    data = erasure.export_profile(request.user, profile)
    response = HttpResponse(json.dumps(data, default=str, ensure_ascii=False, indent=2),
                            content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="profile-{profile.pk}.json"'
    return response


def embed_snippet() -> str:
    """HTML to paste into another site (in the console user's language): it posts to
    the hosted form, which asks the person to confirm there, under its CSRF token."""
    action = f"{settings.ENVOI_BASE_URL}/subscribe/embedded"
    return (f'<form method="post" action="{escape(action)}" accept-charset="utf-8">\n'
            f'  <input type="email" name="email" required '
            f'placeholder="{escape(_("Email address"))}">\n'
            f'  <input type="text" name="first_name" '
            f'placeholder="{escape(_("First name (optional)"))}">\n'
            f'  <button type="submit">{escape(_("Subscribe"))}</button>\n'
            f'</form>')


@requires("audience.edit")
def subscription_form(request: HttpRequest) -> HttpResponse:
    """The form's addresses, its snippet, and the lists people may join themselves."""
    if request.method == "POST":
        _change_public_lists(request)
        return redirect("web:subscription_form")
    public = {p.audience_id: p for p in PublicList.objects.all()}
    lists = Audience.objects.filter(kind=Audience.LIST).order_by("name")
    return render(request, "consent/console_form.html", {
        "hosted_url": f"{settings.ENVOI_BASE_URL}/subscribe", "snippet": embed_snippet(),
        "lists": [(audience, public.get(audience.pk)) for audience in lists],
        "brand": brand()})


def _change_public_lists(request: HttpRequest) -> None:
    audience = Audience.objects.filter(pk=_int(request.POST.get("audience")),
                                       kind=Audience.LIST).first()
    if audience is None:
        messages.error(request, _("Choose a static list."))
        return
    title = request.POST.get("title", "").strip()[:200]
    if request.POST.get("public") == "on":
        PublicList.objects.update_or_create(audience=audience,
                                            defaults={"title": title or audience.name})
        messages.success(request, _("People can now join this list themselves."))
    else:
        PublicList.objects.filter(audience=audience).delete()
        messages.success(request, _("This list is no longer offered to people."))


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0


@require_GET
@requires("logs.view")
def consent_notices(request: HttpRequest) -> HttpResponse:
    """The compliance page: consent notices due, sent, failed and overdue per month."""
    return render(request, "consent/compliance.html", {
        "months": compliance.notice_months(clock.now()), "enabled": notices.enabled()})


# -- editing a profile -----------------------------------------------------------------

class ProfileForm(forms.Form):
    email = forms.CharField(label=_l("Email address"), required=False, max_length=320)
    phone = forms.CharField(label=_l("Phone"), required=False, max_length=32)
    first_name = forms.CharField(label=_l("First name"), required=False, max_length=150)
    last_name = forms.CharField(label=_l("Last name"), required=False, max_length=150)
    language = forms.CharField(label=_l("Language"), required=False, max_length=16,
                               help_text=_l("For example ko, ja or en."))
    timezone = forms.CharField(label=_l("Time zone"), required=False, max_length=64,
                               help_text=_l("For example Asia/Seoul."))
    attributes = forms.JSONField(
        label=_l("Attributes"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false",
                                     "placeholder": '{"vip": true, "points": 120}'}),
        help_text=_l("A JSON object of names and values."))
    email_opt_out = forms.BooleanField(label=_l("No longer contact by email"),
                                       required=False)
    sms_opt_out = forms.BooleanField(label=_l("No longer contact by SMS"), required=False)
    is_test = forms.BooleanField(label=_l("Test profile"), required=False)
    lists = forms.TypedMultipleChoiceField(
        label=_l("Static lists"), required=False, coerce=int,
        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lists"].choices = list(  # type: ignore[attr-defined]
            Audience.objects.filter(kind=Audience.LIST).order_by("name")
            .values_list("pk", "name"))

    def clean_attributes(self) -> dict:
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Attributes must be a JSON object."))
        return value


@requires("profile.edit")
def profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_or_404(Profile, pk)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            change = editing.ProfileChange(
                values={name: data[name] for name in editing.EDITABLE},
                lists=set(data["lists"]))
            try:
                editing.edit_profile(request.user, profile, change)
            except editing.ProfileErased as error:
                messages.error(request, str(error))
                return redirect("web:profile", profile.pk)
            except editing.ProfileError as error:
                for name, message in error.errors.items():
                    form.add_error(name if name in form.fields else None, message)
            else:
                messages.success(request, _("The profile was saved."))
                return redirect("web:profile", profile.pk)
    else:
        initial = {name: getattr(profile, name) for name in editing.EDITABLE}
        initial["lists"] = list(AudienceMember.objects.filter(
            profile=profile, audience__kind=Audience.LIST).values_list("audience_id",
                                                                       flat=True))
        form = ProfileForm(initial=initial)
    return render(request, "consent/profile_edit.html", {"profile": profile, "form": form})
