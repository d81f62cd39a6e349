"""The console's side of consent: a profile's consent given or withdrawn on the
person's word, its erasure and its data export, and the subscription form's page (the
hosted form's address, the snippet to embed, and which lists people may join).

Each action calls the core function the API and CLI call, which checks the same
permission; a refusal answers the refusal page (403), audited."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from envoi.audiences.models import Audience, Profile
from envoi.consent import erasure, services
from envoi.consent.models import Channel, PublicList, Source
from envoi.consent.pages import brand
from envoi.web.views.common import get_or_404, requires

MAX_WORDING = 5000


@require_POST
@requires("consent.record")
def profile_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record consent given (or withdrawn) as the person said it, source ``console``."""
    profile = get_or_404(Profile, pk)
    channel = request.POST.get("channel", "")
    status = request.POST.get("status", "")
    wording = request.POST.get("wording", "").strip()[:MAX_WORDING]
    back = reverse("web:profile", args=[profile.pk])
    if channel not in Channel.values or status not in ("granted", "withdrawn"):
        messages.error(request, _("Choose a channel and whether consent was given or "
                                  "withdrawn."))
        return redirect(back)
    if status == "granted" and not wording:
        messages.error(request, _("Consent: write down what the person agreed to, as "
                                  "proof."))
        return redirect(back)
    evidence = services.Evidence(Source.CONSOLE, wording=wording)
    if status == "granted":
        services.give_consent(request.user, profile, channel, evidence)
        messages.success(request, _("Consent was recorded."))
    else:
        services.take_back_consent(request.user, profile, channel, evidence)
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
