"""The REST API under ``/api/v1``: bearer tokens, and one mapping from core errors to
HTTP answers, so that no known failure ever surfaces as a 500."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer

from envoi.accounts.services import PermissionDenied, user_for_token
from envoi.api.errors import declare_errors
from envoi.audiences.services import AudienceInUse
from envoi.deliveries.lifecycle import InvalidTransition


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


M = TypeVar("M", bound=Model)


class NotFound(Exception):
    """An id that names nothing; the message says what was looked for."""


class BadRequest(ValueError):
    """Input the core refused, with a message that says what and where."""


class FieldErrors(BadRequest):
    """Values the core refused, each on its field: answered as 400 with ``detail`` (all
    of them in one sentence) and ``errors`` (field name -> what is wrong with it)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {error}" for name, error in errors.items()))


class LocalSwagger(Swagger):
    """``/api/v1/docs`` with the Swagger UI vendored in the console's static files: the
    page loads nothing from another origin, and runs under the console's CSP."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        return render(request, "web/api_docs.html", {"api": api, "swagger_settings": settings})


class EnvoiApi(NinjaAPI):
    """The API whose OpenAPI description also declares every error it answers with."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        return declare_errors(super().get_openapi_schema(*args, **kwargs))


# No validator badge: Swagger UI would send the description to a third party.
api = EnvoiApi(title="Envoi API", version="1", urls_namespace="api", auth=BearerToken(),
               docs=LocalSwagger(settings={"validatorUrl": None}))


# Core errors and the HTTP status each one answers with, as {"detail": message}.
ERROR_STATUS: dict[type[Exception], int] = {
    BadRequest: 400,
    AuthenticationError: 401,
    PermissionDenied: 403,
    NotFound: 404,
    InvalidTransition: 409,
    AudienceInUse: 409,
}


def _answer(status: int):
    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        detail = "Missing or invalid bearer token." if status == 401 else str(exc)
        return api.create_response(request, {"detail": detail}, status=status)

    return handler


for _error, _status in ERROR_STATUS.items():
    api.add_exception_handler(_error, _answer(_status))


def _field_errors(request: HttpRequest, exc: Any) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc),
                                         "errors": getattr(exc, "errors", {})}, status=400)


api.add_exception_handler(FieldErrors, _field_errors)


def get_or_404(model: type[M], object_id: int, noun: str) -> M:
    """The object with that id, or :class:`NotFound` saying what was looked for."""
    in_range = 0 < object_id < 2**63  # beyond it, the database would refuse the query
    found = model._default_manager.filter(pk=object_id).first() if in_range else None
    if found is None:
        raise NotFound(f"{noun} {object_id} does not exist.")
    return found


def _register() -> None:
    from envoi.api import (
        accounts,
        audiences,
        bounces,
        deliveries,
        exports,
        outbox,
        profiles,
        quarantine,
    )

    api.add_router("/profiles", profiles.router, tags=["profiles"])
    api.add_router("/audiences", audiences.router, tags=["audiences"])
    api.add_router("/deliveries", deliveries.router, tags=["deliveries"])
    api.add_router("/deliveries", exports.delivery_router, tags=["exports"])
    api.add_router("/exports", exports.router, tags=["exports"])
    api.add_router("/outbox", outbox.router, tags=["outbox"])
    api.add_router("/quarantine", quarantine.router, tags=["quarantine"])
    api.add_router("/bounces", bounces.router, tags=["bounces"])
    api.add_router("/qualification-rules", bounces.rules_router, tags=["bounces"])
    api.add_router("/sms-inbound", bounces.sms_router, tags=["bounces"])
    api.add_router("/tokens", accounts.token_router, tags=["accounts"])
    api.add_router("/users", accounts.user_router, tags=["accounts"])
    _register_content()
    _register_consent()
    _register_sending_domains()


def _register_consent() -> None:
    from envoi.api import consent

    api.add_router("/profiles", consent.router, tags=["consent"])
    api.add_router("/deliveries", consent.deliveries_router, tags=["consent"])


def _register_sending_domains() -> None:
    from envoi.api import sending_domains

    api.add_router("/sending-domains", sending_domains.router, tags=["sending domains"])


def _register_content() -> None:
    from envoi.api import content

    api.add_router("/templates", content.templates_router, tags=["templates"])
    api.add_router("/images", content.images_router, tags=["images"])


_register()
