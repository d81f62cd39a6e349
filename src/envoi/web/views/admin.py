"""Administration: users and their roles, and the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from envoi.accounts import services
from envoi.accounts.models import UserRole
from envoi.web import queries, role_words
from envoi.web.forms import RolesForm, UserForm
from envoi.web.views.common import get_or_404, requires


@requires("users.manage")
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.add_user(request.user, data["username"], data["roles"], data["password"])
        messages.success(request, _("The user was created."))
        return redirect("web:users")
    users = User.objects.order_by("username").prefetch_related(
        Prefetch("envoi_roles", queryset=UserRole.objects.order_by("role")))
    return render(request, "web/users.html", {"users": users, "form": form,
                                              "role_lines": role_words.role_lines()},
                  status=400 if form.errors else 200)


@requires("users.manage")
def user_roles(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_or_404(User, pk)
    current = sorted(services.roles_of(user))
    form = RolesForm(request.POST or None, initial={"roles": current})
    if request.method == "POST" and form.is_valid():
        services.change_roles(request.user, user, form.cleaned_data["roles"])
        messages.success(request, _("The roles were saved."))
        return redirect("web:users")
    return render(request, "web/user_roles.html", {"account": user, "form": form})


@requires("users.manage")
def audit_log(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")[:64]
    actor = request.GET.get("actor", "")[:150]
    delivery = request.GET.get("delivery", "")[:20]
    page = queries.page_of(queries.audit_entries(action, actor, delivery),
                           queries.page_number(request.GET.get("page")))
    return render(request, "web/audit.html", {
        "page": page, "action": action, "actor": actor, "delivery": delivery,
        "actions": queries.audit_actions()})
