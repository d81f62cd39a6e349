"""What every console view shares: sign-in, refusals shown as messages, one object."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from envoi.accounts.services import PermissionDenied, permitted_actions
from envoi.web.errors import REFUSALS, denial, message_of

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def console(view: View) -> View:
    """Signed-in users only; a permission refusal renders the refusal page (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            return render(request, "web/denied.html", {"message": message_of(error)},
                          status=403)

    return login_required(wrapper)


def requires(action: str) -> Callable[[View], View]:
    """Refuse the whole view unless the user may do ``action`` (checked, not audited:
    reading a page is not an action; the service calls it makes audit themselves)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not may(request, action):
                return render(request, "web/denied.html", {"message": denial(action)},
                              status=403)
            return view(request, *args, **kwargs)

        return console(wrapper)

    return decorate


def may(request: HttpRequest, action: str) -> bool:
    """Whether the signed-in user may do ``action``; roles are read once per request."""
    permitted = getattr(request, "_envoi_permitted", None)
    if permitted is None:
        permitted = permitted_actions(request.user)
        request._envoi_permitted = permitted  # type: ignore[attr-defined]
    return action in permitted


def get_or_404(model: type[M], pk: int) -> M:
    found = model._default_manager.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise Http404
    return found


def act(request: HttpRequest, call: Callable[[], Any], done: str | Callable[[Any], str],
        back: str, *args: Any) -> HttpResponse:
    """Run a core action; say it worked (``done``, or ``done`` of what the action
    returned), or say why it was refused, then go ``back``."""
    try:
        result = call()
    except REFUSALS as error:
        messages.error(request, message_of(error))
    else:
        messages.success(request, done(result) if callable(done) else done)
    return redirect(back, *args)
