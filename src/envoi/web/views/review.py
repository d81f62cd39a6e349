"""Reviewing a delivery's message: the preview as a chosen profile, and proofs.

The preview is :func:`envoi.content.preview.preview`, the API's: the sending renderer's
own output for one profile, with real link targets and no open pixel, so that looking at
it never records a tracking event. The message's HTML is shown in a sandboxed frame of
its own (:func:`preview_body`), at a desktop or a mobile width.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from envoi.audiences.models import Profile
from envoi.content.authoring import languages_of
from envoi.content.preview import PreviewError, preview, sample_profiles
from envoi.deliveries import services
from envoi.deliveries.models import Delivery
from envoi.sending.proofs import ProofError
from envoi.tracking.views import MIRROR_POLICY
from envoi.web import queries
from envoi.web.errors import message_of
from envoi.web.views.common import BANNER_REFUSALS, console, delivery_for, may

# The frame widths a marketer checks: a desktop mail client's reading pane, a phone.
WIDTHS = {"desktop": (600, gettext_lazy("Desktop")), "mobile": (375, gettext_lazy("Mobile"))}
SEARCH_RESULTS = 10


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def variant_label(language: str) -> str:
    return language or str(_("Default"))


def preview_of(delivery: Delivery, profile_id: int | None, language: str | None
               ) -> tuple[dict[str, Any] | None, str]:
    """The preview, or None and the reason it cannot be made (an unknown profile)."""
    try:
        return preview(delivery, profile_id, None, language), ""
    except PreviewError as error:
        return None, str(error)


@require_GET
@console
def delivery_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The message as one profile: found by search or taken from the audience."""
    delivery = delivery_for(request, pk, "delivery.view")
    languages = languages_of(delivery)
    language = request.GET.get("language")
    language = language if language in languages else None
    width = request.GET.get("width", "desktop")
    width = width if width in WIDTHS else "desktop"
    profile_id = _int(request.GET.get("profile"))
    search = request.GET.get("q", "").strip()[:320]
    found = (list(queries.search_profiles(search)[:SEARCH_RESULTS])
             if search and may(request, "profile.view") else [])
    shown, problem = preview_of(delivery, profile_id, language)
    return render(request, "web/preview.html", {
        "delivery": delivery, "preview": shown, "problem": problem,
        "variants": [(code, variant_label(code)) for code in languages],
        "language": language, "width": width, "frame_width": WIDTHS[width][0],
        "widths": [(name, label) for name, (_px, label) in WIDTHS.items()],
        "profile_id": profile_id, "search": search, "found": found,
        "samples": sample_profiles(delivery), "may_proof": may(request, "delivery.proof"),
    })


@require_GET
@xframe_options_sameorigin
@console
def preview_body(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview's HTML alone, for the sandboxed frame (no scripts, an opaque origin:
    profile values cannot act as the console's user)."""
    delivery = delivery_for(request, pk, "delivery.view")
    language = request.GET.get("language")
    shown, problem = preview_of(delivery, _int(request.GET.get("profile")),
                                language if language in languages_of(delivery) else None)
    html = shown["html"] if shown else ""
    if not html:
        text = shown["text"] if shown else problem
        html = f"<pre>{escape(text)}</pre>"
    response = HttpResponse('<base target="_blank">' + html,
                            content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = MIRROR_POLICY
    response["Cache-Control"] = "no-store"
    return response


@console
def delivery_proof(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a proof: to the test profiles or typed addresses, in a chosen variant,
    rendered as a chosen profile (:func:`envoi.deliveries.services.send_proof_to`)."""
    delivery = delivery_for(request, pk, "delivery.proof")
    form: dict[str, Any] = {"addresses": "", "language": "", "profile": ""}
    chosen: list[int] = []
    error = ""
    if request.method == "POST":
        form = {name: request.POST.get(name, "").strip() for name in form}
        chosen = [number for number in map(_int, request.POST.getlist("test_profile"))
                  if number is not None]
        sent, error = _send_proof(request, delivery, form, chosen)
        if sent is not None:
            messages.success(request, _proof_done(sent))
            return redirect("web:delivery", pk)
    return render(request, "web/proof.html", {
        "delivery": delivery, "form": form, "error": error, "chosen": chosen,
        "variants": [(code, variant_label(code)) for code in languages_of(delivery)],
        "test_profiles": Profile.objects.filter(is_test=True).exclude(email="")
        .order_by("id")[:50],
        "samples": sample_profiles(delivery),
    })


def _send_proof(request: HttpRequest, delivery: Delivery, form: dict[str, str],
                chosen: list[int]) -> tuple[dict[str, Any] | None, str]:
    addresses = [part.strip() for part in form["addresses"].replace(";", ",")
                 .replace("\n", ",").split(",") if part.strip()]
    profile_id = _int(form["profile"])
    if form["profile"] and profile_id is None:
        return None, str(_("Choose the profile to render the proof as from the list."))
    try:
        return services.send_proof_to(request.user, delivery, addresses,
                                      form["language"] or None, profile_id,
                                      chosen or None), ""
    except (*BANNER_REFUSALS, ProofError) as refusal:
        return None, message_of(refusal)


def _proof_done(sent: dict[str, Any]) -> str:
    failed = [row["address"] for row in sent["recipients"] if not row["ok"]]
    if failed:
        return _("Proof %(number)s was sent; the relay refused %(failed)s.") % {
            "number": sent["number"], "failed": ", ".join(failed)}
    return _("Proof %(number)s was sent to %(addresses)s.") % {
        "number": sent["number"],
        "addresses": ", ".join(row["address"] for row in sent["recipients"])}


@require_POST
@console
def profile_test_flag(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark or unmark a test profile (it receives proofs, never a delivery)."""
    from envoi.audiences.services import set_test_profile
    from envoi.web.views.common import get_or_404

    profile = get_or_404(Profile, pk)
    marked = request.POST.get("is_test") == "1"
    set_test_profile(request.user, profile, marked)
    messages.success(request, _("The profile is now a test profile: it receives proofs, "
                                "never deliveries.") if marked else
                     _("The profile is no longer a test profile."))
    back = request.POST.get("next", "")
    if back.startswith("/profiles/") and "//" not in back:  # the list it came from
        return redirect(back)
    return redirect("web:profile", pk)


def approval_context(delivery: Delivery) -> dict[str, Any]:
    """What the approver approves: every variant as a profile who receives it (its
    subject, preheader and frame), the audience and its count, and the findings. The
    approve form carries the preparation's content hash: approving a preparation made
    after the screen was opened is refused (services.approve)."""
    from envoi.content.preview import variant_samples

    samples = variant_samples(delivery)
    variants = []
    for language, profile_id in samples.items():
        shown, problem = preview_of(delivery, profile_id, language)
        variants.append({"language": language, "label": variant_label(language),
                         "to_deliver": delivery.variant_counts.get(language, 0),
                         "preview": shown, "problem": problem})
    content = variants[0]["preview"]["findings"] if variants and variants[0]["preview"] \
        else []
    prepared = [{"level": m.level, "code": m.code, "message": m.message, "field": m.field,
                 "line": m.line, "column": m.column}
                for m in queries.preparation_log(delivery.pk)]
    seen = {(f["code"], f["field"], f["line"]) for f in prepared}
    findings = prepared + [f for f in content
                           if (f["code"], f["field"], f["line"]) not in seen]
    return {"variants": variants, "findings": findings,
            "content_hash": delivery.prepared_hash}
