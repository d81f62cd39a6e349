"""The recipient's pages of consent: the subscription form and its confirmation, and
the preference centre. Like tracking's pages beside them, they never answer 500, and a
bad or expired link gets the plain invalid-link page, in the recipient's language."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from envoi.audiences.models import Profile
from envoi.consent import notice_mail, preferences, ratelimit, subscription
from envoi.consent.models import Source
from envoi.consent.pages import brand, client_ip, recipient_language, render_page
from envoi.consent.services import Evidence
from envoi.tracking import services as tracking
from envoi.tracking import tokens


def invalid_link(request: HttpRequest, language: str = "") -> HttpResponse:
    return render_page(request, "tracking/invalid_link.html", language=language, status=400)


def _evidence(request: HttpRequest, wording: str, language: str) -> Evidence:
    return Evidence(Source.FORM, ip=client_ip(request),
                    user_agent=request.headers.get("User-Agent", "")[:500],
                    wording=wording, language=language)


def consent_wording() -> str:
    """The sentence the form shows beside its button, in the active language."""
    return _("Yes, send me news and offers from %(name)s by email. I can unsubscribe "
             "at any time.") % {"name": brand().name}


# -- the subscription form ------------------------------------------------------------------

def _form_page(request: HttpRequest, *, values: dict | None = None, error: str = "",
               field: str = "", status: int = 200, from_embed: bool = False
               ) -> HttpResponse:
    language = recipient_language(request)
    values = values or {}
    return render_page(request, "consent/subscribe.html", {
        "stamp": subscription.form_stamp(), "values": values, "error": error,
        "field": field, "lists": subscription.public_lists(), "from_embed": from_embed,
        "chosen": {str(pk) for pk in values.get("lists", [])},
    }, language=language, status=status)


def too_many(request: HttpRequest, limited: ratelimit.RateLimited) -> HttpResponse:
    """429: nothing was recorded or sent; the page says when to try again."""
    response = render_page(request, "consent/too_many.html",
                           {"minutes": max(1, -(-limited.retry_after // 60))}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def _posted_values(request: HttpRequest) -> dict:
    return {"email": request.POST.get("email", "")[:320],
            "first_name": request.POST.get("first_name", "")[:150],
            "lists": [v for v in request.POST.getlist("lists") if v.isdigit()][:50]}


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """The hosted form (CSRF-protected, as every POST of Envoi's own pages)."""
    if request.method != "POST":
        return _form_page(request)
    values = _posted_values(request)
    language = recipient_language(request)
    try:
        ratelimit.take_client(client_ip(request))
        subscription.check_human(request.POST.get("stamp", ""),
                                 request.POST.get("website", ""))
        with translation.override(language):
            wording = consent_wording()
        signup = subscription.Signup(values["email"], values["first_name"],
                                     tuple(int(v) for v in values["lists"]), language)
        subscription.subscribe(signup, _evidence(request, wording, language))
    except ratelimit.RateLimited as limited:
        return too_many(request, limited)
    except subscription.SubscriptionError as error:
        return _form_page(request, values=values, error=str(error), field=error.field,
                          status=400)
    return render_page(request, "consent/check_inbox.html", language=language)


@csrf_exempt
@require_http_methods(["POST"])
def subscribe_embedded(request: HttpRequest) -> HttpResponse:
    """Where an embedded form posts (from any site, so without a CSRF token): nothing
    is recorded; the hosted form opens filled in, and the person confirms there."""
    try:
        ratelimit.take_client(client_ip(request))
    except ratelimit.RateLimited as limited:
        return too_many(request, limited)
    return _form_page(request, values=_posted_values(request), from_embed=True)


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners open links); its POST grants the consent."""
    try:
        profile, _lists = subscription.read_link(token)
    except subscription.BadLink:
        return invalid_link(request)
    language = recipient_language(request, profile.language)
    if request.method != "POST":
        return render_page(request, "consent/confirm.html", {"address": profile.email},
                           language=language)
    wording = _confirm_wording(language)
    try:
        subscription.confirm(token, _evidence(request, wording, language))
    except subscription.BadLink:
        return invalid_link(request, language)
    return render_page(request, "consent/subscribed.html", {"address": profile.email},
                       language=language)


def _confirm_wording(language: str) -> str:
    with translation.override(language):
        return _("Confirm my subscription")


# -- the preference centre ----------------------------------------------------------------

def _target_profile(token: str) -> tuple[tracking.UnsubscribeTarget | None, Profile]:
    """The message and profile of a message's link, or (None, profile) for the link of a
    consent notice (envoi.consent.notice_mail), which names only the profile."""
    try:
        message = tracking.unsubscribe_target(token)
        target: tracking.UnsubscribeTarget | None = message
        profile_id = message.profile_id
    except tokens.BadToken:
        target, profile_id = None, notice_mail.profile_of_link(token)
    profile = Profile.objects.filter(pk=profile_id).first()
    if profile is None or not profile.email:
        raise tokens.BadToken("no such profile")
    return target, profile


@require_http_methods(["GET", "HEAD", "POST"])
def preference_centre(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target, profile = _target_profile(token)
    except tokens.BadToken:
        return invalid_link(request)
    language = recipient_language(request, profile.language)
    evidence = preferences.evidence_from(client_ip(request),
                                         request.headers.get("User-Agent", "")[:500],
                                         language)
    saved = False
    if request.method == "POST":
        if request.POST.get("action") == "unsubscribe":
            preferences.unsubscribe_all(
                profile, target.delivery_id if target else None,
                target.row_id if target else None, request.POST.get("reason", ""),
                evidence)
            if target is not None:  # a notice's link names no delivery to count it for
                tracking.log_unsubscribe(target,
                                         request.headers.get("User-Agent", "")[:500])
            return render_page(request, "tracking/unsubscribed.html",
                               {"address": profile.email}, language=language)
        wanted = preferences.Choices(
            channels={c: request.POST.get(f"channel_{c}") == "on"
                      for c in ("email", "sms")},
            lists={int(v) for v in request.POST.getlist("lists") if v.isdigit()})
        preferences.save_choices(profile, wanted, evidence)
        profile.refresh_from_db()
        saved = True
    choices = preferences.current_choices(profile)
    return render_page(request, "consent/preferences.html", {
        "address": profile.email, "choices": choices, "saved": saved,
        "lists": subscription.public_lists(), "has_phone": bool(profile.phone),
        "reasons": preferences.reason_choices(),
    }, language=language)


@require_http_methods(["GET", "HEAD", "POST"])
def proof_preferences(request: HttpRequest) -> HttpResponse:
    return render_page(request, "consent/proof_preferences.html")
