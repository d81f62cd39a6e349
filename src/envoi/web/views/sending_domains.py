"""Sending domains: the DNS records each From domain needs and their live state, and
its DKIM keys — through the same core functions as the API."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from envoi.accounts.services import require
from envoi.sending.email import keys, services
from envoi.sending.email.models import SendingDomain
from envoi.web.views.common import get_or_404, may, requires


@requires("sending_domain.view")
def sending_domain_list(request: HttpRequest) -> HttpResponse:
    """The domains, and (POST, administrators) a new one: checked at once."""
    typed = ""
    if request.method == "POST":
        require(request.user, "sending_domain.manage")
        typed = request.POST.get("domain", "").strip()[:253]
        try:
            domain = keys.add_domain(request.user, typed)
        except keys.DkimError as error:
            messages.error(request, str(error))
        else:
            services.show(request.user, domain.domain, check=True)
            return redirect("web:sending_domain", domain.pk)
    return render(request, "web/sending_domains.html", {
        "domains": services.list_domains(request.user), "typed": typed,
        "may_manage": may(request, "sending_domain.manage")})


@require_safe
@requires("sending_domain.view")
def sending_domain(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_or_404(SendingDomain, pk)
    return render(request, "web/sending_domain.html", {
        "domain": domain, "view": services.describe(domain),
        "suggested_selector": keys.random_selector(),
        "may_manage": may(request, "sending_domain.manage")})


@require_POST
@requires("sending_domain.view")
def sending_domain_check(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_or_404(SendingDomain, pk)
    view = services.show(request.user, domain.domain, check=True)
    if view["ok"]:
        messages.success(request, _("Every record is in place."))
    else:
        messages.error(request, _("Some records are missing or wrong: see below."))
    return redirect("web:sending_domain", domain.pk)


@require_POST
@requires("sending_domain.manage")
def sending_domain_dkim(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a selector pair; the page then shows the records to publish."""
    domain = get_or_404(SendingDomain, pk)
    selector = request.POST.get("selector", "").strip()[:63]
    try:
        created = keys.create_keys(request.user, domain.domain, selector)
    except keys.DkimError as error:
        messages.error(request, str(error))
    else:
        services.show(request.user, domain.domain, check=True)
        messages.success(request, _("Keys created under %(selectors)s: publish their "
                                    "records below. Mail from %(domain)s is signed with "
                                    "them from now on.") % {
            "selectors": ", ".join(key.selector for key in created), "domain": domain.domain})
    return redirect("web:sending_domain", domain.pk)


@require_POST
@requires("sending_domain.manage")
def sending_domain_retire(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_or_404(SendingDomain, pk)
    selector = request.POST.get("selector", "").strip()[:63]
    try:
        keys.retire_selector(request.user, domain.domain, selector)
    except keys.DkimError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Selector %(selector)s is retired: it signs nothing "
                                    "from now on.") % {"selector": selector})
    return redirect("web:sending_domain", domain.pk)
