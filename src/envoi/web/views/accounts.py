"""Sign-in (throttled), API tokens, and an administrator's account page for one user
(deactivate, reactivate, set a password, revoke its tokens)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from envoi import clock
from envoi.accounts import throttle, tokens, users
from envoi.accounts.models import ApiToken
from envoi.accounts.services import (
    MAX_TOKEN_DAYS,
    AccountError,
    PermissionDenied,
    audit,
    require,
)
from envoi.web.errors import message_of
from envoi.web.views.common import console, get_or_404, may, requires


def throttled_message(seconds: int) -> str:
    return ngettext(
        "Too many failed sign-ins. Wait %(seconds)d second and try again.",
        "Too many failed sign-ins. Wait %(seconds)d seconds and try again.",
        seconds) % {"seconds": seconds}


class ThrottledLoginForm(AuthenticationForm):
    """Django's sign-in form, refusing at once while the account or the address waits."""

    throttled_seconds = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is not None and self.cleaned_data.get("password"):
            try:
                throttle.check(username, throttle.client_address(self.request))
            except throttle.LoginThrottled as refused:
                self.throttled_seconds = refused.seconds
                raise ValidationError(throttled_message(refused.seconds),
                                      code="throttled") from refused
        return super().clean()


class SignIn(LoginView):
    template_name = "web/login.html"
    authentication_form = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.throttled_seconds:
            response.status_code = 429
            response["Retry-After"] = str(form.throttled_seconds)
        return response


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Label"), max_length=100, required=False)
    expires_in_days = forms.IntegerField(
        label=gettext_lazy("Expires in (days)"), min_value=1, max_value=MAX_TOKEN_DAYS,
        required=False, help_text=gettext_lazy("Leave it empty for a token that does "
                                               "not expire."))


class PasswordForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("New password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete":
                                                                 "new-password"}))
    again = forms.CharField(label=gettext_lazy("New password again"), strip=False,
                            widget=forms.PasswordInput(attrs={"autocomplete":
                                                              "new-password"}))

    def __init__(self, *args: Any, account: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("again"):
            self.add_error("again", _("The two passwords differ."))
        return data


@console
def token_list(request: HttpRequest) -> HttpResponse:
    """Your tokens (every token, for a token manager); create one, shown once."""
    form = TokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _row, created = tokens.create(request.user, request.user,  # type: ignore[arg-type]
                                          data["name"], data["expires_in_days"])
        except AccountError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The token was created. Copy it now: it is not "
                                        "shown again."))
            form = TokenForm()
    everyone = may(request, "token.manage")
    owner = None if everyone else request.user
    listed = tokens.list_tokens(request.user, owner)  # type: ignore[arg-type]
    return render(request, "web/tokens.html", {
        "tokens": _with_states(listed), "form": form, "created": created,
        "everyone": everyone}, status=400 if form.errors else 200)


def _with_states(listed: Any) -> list[tuple[ApiToken, str]]:
    now = clock.now()
    return [(token, token.state_at(now)) for token in listed]


@console
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("web:tokens")
    token = ApiToken.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    # Someone else's token, or none: only a token manager learns which.
    mine = token is not None and token.user_id == request.user.pk
    if not mine:
        require(request.user, "token.manage")
    token = get_or_404(ApiToken, pk)
    tokens.revoke(request.user, token)
    messages.success(request, _("The token was revoked."))
    back = request.POST.get("back", "")
    return redirect("web:user_account", token.user_id) if back == "account" else redirect(
        "web:tokens")


@requires("users.manage")
def user_account(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_or_404(User, pk)
    form = PasswordForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            users.set_password(request.user, account, form.cleaned_data["password"])
        except ValidationError as error:
            form.add_error("password", error)
        else:
            messages.success(request, _("The password was changed; the user's sessions "
                                        "were ended."))
            return redirect("web:user_account", account.pk)
    return render(request, "web/user_account.html", {
        "account": account, "form": form,
        "tokens": _with_states(tokens.list_tokens(request.user, account))},
        status=400 if form.errors else 200)


@requires("users.manage")
def user_activation(request: HttpRequest, pk: int, change: str) -> HttpResponse:
    account = get_or_404(User, pk)
    if request.method == "POST":
        try:
            if change == "deactivate":
                users.deactivate(request.user, account)
                messages.success(request, _("The user was deactivated: its sessions "
                                            "and tokens no longer work."))
            else:
                users.reactivate(request.user, account)
                messages.success(request, _("The user was reactivated."))
        except AccountError:
            messages.error(request, _("You cannot deactivate your own account."))
        except PermissionDenied as error:
            messages.error(request, message_of(error))
    return redirect("web:user_account", account.pk)


@requires("users.manage")
def user_reset_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a one-time reset link and show it on the account page (never stored in a
    message: those can travel in a cookie)."""
    account = get_or_404(User, pk)
    if request.method != "POST":
        return redirect("web:user_account", account.pk)
    try:
        link = users.reset_link(request.user, account)
    except AccountError:
        messages.error(request, _("The user is deactivated: reactivate it first."))
        return redirect("web:user_account", account.pk)
    return render(request, "web/user_account.html", {
        "account": account, "form": PasswordForm(account=account), "reset_link": link,
        "reset_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        "tokens": _with_states(tokens.list_tokens(request.user, account))})


class PasswordReset(PasswordResetConfirmView):
    """Where a reset link leads: choose a new password (the same rules), then sign in."""

    template_name = "web/password_reset.html"
    success_url = reverse_lazy("web:login")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        users.end_sessions(form.user)
        audit(form.user, "users.password_reset", username=form.user.get_username())
        messages.success(self.request, _("Your password was changed. Sign in with it."))
        return response
