"""What every console view shares: sign-in, the permission check the API makes (the
refusal page, 403, audited), refusals of state shown as messages, one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from envoi.accounts.services import PermissionDenied, permitted_actions, require
from envoi.deliveries.models import Delivery
from envoi.web.errors import REFUSALS, message_of

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]

# The refusals a view says in a banner or on its form. A permission refusal is not one
# of them: it answers the refusal page (403), as the API answers 403.
BANNER_REFUSALS = tuple(error for error in REFUSALS if error is not PermissionDenied)


def console(view: View) -> View:
    """Signed-in users only; a permission refusal, from the view's own check or from
    the core service it calls, renders the refusal page (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            return render(request, "web/denied.html", {"message": message_of(error)},
                          status=403)

    return login_required(wrapper)


def requires(*actions: str) -> Callable[[View], View]:
    """Refuse the whole view unless the user may do every one of ``actions``.

    The check is the API's: :func:`require`, which audits a refusal. A view on one
    delivery checks with :func:`delivery_for` instead, so that its refusal is audited
    against the delivery, as the API's is."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            for action in actions:
                require(request.user, action)
            return view(request, *args, **kwargs)

        return console(wrapper)

    return decorate


def delivery_for(request: HttpRequest, pk: int, action: str) -> Delivery:
    """The delivery ``pk``, once the user may do ``action`` on it. The refusal is
    audited against the delivery, as the API's is; it comes before the lookup, so that
    a refused user cannot tell which deliveries exist (403 for all, never 404)."""
    require(request.user, action, delivery_id=pk if 0 < pk < 2**63 else None)
    return get_or_404(Delivery, pk)


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


@dataclass(frozen=True)
class Outcome:
    """What an action did, when it ran but did not succeed (a preparation that failed):
    said with its own level rather than as a success."""

    text: str
    level: int = messages.SUCCESS


def act(request: HttpRequest, call: Callable[[], Any],
        done: str | Callable[[Any], str | Outcome], back: str, *args: Any) -> HttpResponse:
    """Run a core action; say what it did (``done``, or ``done`` of what the action
    returned), or say why the delivery's state refused it, then go ``back``. A
    permission refusal goes on to :func:`console`, which answers 403."""
    try:
        result = call()
    except BANNER_REFUSALS as error:
        messages.error(request, message_of(error))
    else:
        said = done(result) if callable(done) else done
        if isinstance(said, Outcome):
            messages.add_message(request, said.level, said.text)
        else:
            messages.success(request, said)
    return redirect(back, *args)
