"""The REST API under ``/api/v1``: bearer tokens, and one mapping from core errors to
HTTP answers, so that no known failure ever surfaces as a 500."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from envoi.accounts.services import PermissionDenied, user_for_token
from envoi.deliveries.lifecycle import InvalidTransition


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class NotFound(Exception):
    """An id that names nothing; the message says what was looked for."""


class BadRequest(ValueError):
    """Input the core refused, with a message that says what and where."""


api = NinjaAPI(title="Envoi API", version="1", urls_namespace="api", auth=BearerToken())


def _detail(request: HttpRequest, status: int, detail: object) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _detail(request, 403, str(exc))


@api.exception_handler(InvalidTransition)
def invalid_transition(request: HttpRequest, exc: InvalidTransition) -> HttpResponse:
    return _detail(request, 409, str(exc))


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return _detail(request, 404, str(exc))


@api.exception_handler(BadRequest)
def bad_request(request: HttpRequest, exc: BadRequest) -> HttpResponse:
    return _detail(request, 400, str(exc))


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _detail(request, 401, "Missing or invalid bearer token.")


def _register() -> None:
    from envoi.api import audiences, deliveries, outbox, profiles

    api.add_router("/profiles", profiles.router, tags=["profiles"])
    api.add_router("/audiences", audiences.router, tags=["audiences"])
    api.add_router("/deliveries", deliveries.router, tags=["deliveries"])
    api.add_router("/outbox", outbox.router, tags=["outbox"])


_register()
