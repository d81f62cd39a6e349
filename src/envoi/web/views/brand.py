"""Administration → Brand: the name, logo, colour and legal footer recipient pages wear,
and the postal address and contact the market rules check advertising against
(:mod:`envoi.consent.brand`), with a preview of the unsubscribe page in each language.

Saving calls :func:`~envoi.consent.brand.save_brand`, which checks ``brand.manage`` and
audits; the logo goes through the image service. The preview is the real recipient
template rendered with the stored brand, framed by the page under a policy of its own
(no script, no form can be sent from it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from envoi.consent import brand as brands
from envoi.consent.pages import RECIPIENT_LANGUAGES, render_page
from envoi.consent.preferences import reason_choices
from envoi.content import images
from envoi.web.views.common import requires

# The preview frame: the recipient page's own inline style, images from here or the
# logo's https address, nothing else; nothing sent from it; framed only by the console.
PREVIEW_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: "
                  "data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'")


class BrandForm(forms.Form):
    name = forms.CharField(label=_l("Sender's name"), required=False,
                           max_length=brands.MAX_NAME)
    logo = forms.FileField(label=_l("Logo"), required=False,
                           help_text=_l("An image file, shown at most 40 pixels high."))
    remove_logo = forms.BooleanField(label=_l("Remove the uploaded logo"), required=False)
    color = forms.CharField(label=_l("Accent colour"), required=False, max_length=7,
                            help_text=_l("For example #1d4ed8."))
    footer = forms.CharField(
        label=_l("Legal footer"), required=False, max_length=brands.MAX_FOOTER,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_l("The company's name and postal address, one item per line: Korean "
                     "and Japanese law require them in advertising."))
    address = forms.CharField(
        label=_l("Postal address"), required=False, max_length=brands.MAX_ADDRESS,
        help_text=_l("On one line. Japanese advertising must show it; the footer fix "
                     "writes it in."))
    contact = forms.CharField(
        label=_l("Contact for enquiries"), required=False, max_length=brands.MAX_CONTACT,
        help_text=_l("A telephone number, email address or web page. Korean and Japanese "
                     "advertising must show it; a Korean SMS gets it beside the name."))

    def __init__(self, *args: Any, defaults: brands.Brand, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An empty field keeps the environment's value, shown as the placeholder.
        self.fields["name"].widget.attrs["placeholder"] = defaults.name
        self.fields["color"].widget.attrs["placeholder"] = defaults.color
        self.fields["footer"].widget.attrs["placeholder"] = defaults.footer
        self.fields["address"].widget.attrs["placeholder"] = defaults.address
        self.fields["contact"].widget.attrs["placeholder"] = defaults.contact


def _initial() -> dict[str, str]:
    row = brands.stored()
    if row is None:
        return {}
    return {"name": row.name, "color": row.color, "footer": row.footer,
            "address": row.address, "contact": row.contact}


@requires("brand.manage")
def brand_settings(request: HttpRequest) -> HttpResponse:
    defaults = brands.from_environment()
    form = BrandForm(request.POST or None, request.FILES or None, defaults=defaults,
                     initial=_initial())
    if request.method == "POST" and form.is_valid() and _save(request, form):
        messages.success(request, _("The brand was saved. Recipient pages wear it now."))
        return redirect("web:brand")
    row = brands.stored()
    return render(request, "web/brand.html", {
        "form": form, "brand": brands.brand(), "defaults": defaults,
        "logo": row.logo if row is not None else None,
        "preview_languages": RECIPIENT_LANGUAGES,
    }, status=400 if form.errors else 200)


def _save(request: HttpRequest, form: BrandForm) -> bool:
    data = form.cleaned_data
    upload = data.get("logo")
    change = brands.BrandChange(
        name=data["name"], color=data["color"], footer=data["footer"],
        address=data["address"], contact=data["contact"],
        logo=upload.read(images.max_bytes() + 1) if upload else None,
        logo_name=(upload.name or "") if upload else "", remove_logo=data["remove_logo"])
    try:
        brands.save_brand(request.user, change)
    except brands.BrandError as error:
        for name, message in error.errors.items():
            form.add_error(name if name in form.fields else None, message)
        return False
    return True


@require_POST
@requires("brand.manage")
def brand_reset(request: HttpRequest) -> HttpResponse:
    brands.reset_brand(request.user)
    messages.success(request, _("The brand set here was removed: recipient pages wear "
                                "the environment's brand again."))
    return redirect("web:brand")


@require_GET
@xframe_options_sameorigin
@requires("brand.manage")
def brand_preview(request: HttpRequest) -> HttpResponse:
    """The unsubscribe page as a recipient sees it, in ``?language=`` (en, ko, ja)."""
    language = request.GET.get("language", "")
    language = language if language in RECIPIENT_LANGUAGES else request.LANGUAGE_CODE
    # The token "proof" makes its link open the proof's preference page (/p/proof).
    response = render_page(request, "tracking/unsubscribe_confirm.html", {
        "address": "someone@example.com", "token": "proof",
        "reasons": reason_choices()}, language=language)
    response["Content-Security-Policy"] = PREVIEW_POLICY
    return response
