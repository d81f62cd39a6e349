"""The webhook endpoints of the email services users relay through.

``/hooks/ses`` (Amazon SES through SNS), ``/hooks/sendgrid``, ``/hooks/mailgun`` and
``/hooks/postmark``. Each is CSRF-exempt and sessionless: the provider's signature (or,
for Postmark, its basic-auth credentials) is the only authentication, checked on the
raw body before anything in it is read. An endpoint whose provider is not configured
answers 404, as if it did not exist. A call without credentials answers 401, a forged
or stale one 403; both are written to the audit log (``webhook.refused``) and nothing
of theirs is stored or applied. Answers are JSON; no input gives a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from envoi import clock, config
from envoi.bounces import events, webhooks
from envoi.bounces.hooks import receive_notification
from envoi.bounces.webhooks import WebhookRefused

log = logging.getLogger("envoi.bounces")

MAX_BODY = 5 * 1024 * 1024
MAX_EVENTS = 1000  # SendGrid batches; more than this in one call is not SendGrid

# The SNS signing certificates, fetched once per process (tests replace this).
sns_certificates: Callable[[str], bytes] = webhooks.CertificateCache(
    webhooks.fetch_over_https)


class Unauthenticated(WebhookRefused):
    """No credentials at all: answered 401."""


def setting(name: str) -> str:
    """A webhook setting: Django's settings when set there, else the environment."""
    value = getattr(settings, name, None)
    return str(value if value is not None else config.env(name)).strip()


def max_age() -> int:
    try:
        return max(60, int(setting("ENVOI_WEBHOOK_MAX_AGE_SECONDS") or 900))
    except ValueError:
        return 900


def answer(status: int, **body: Any) -> JsonResponse:
    return JsonResponse(body, status=status)


def refuse(request: HttpRequest, provider: str, error: WebhookRefused) -> JsonResponse:
    from envoi.accounts.services import audit

    status = 401 if isinstance(error, Unauthenticated) else 403
    try:
        audit(None, "webhook.refused", allowed=False, provider=provider,
              reason=str(error)[:300], address=request.META.get("REMOTE_ADDR", ""),
              status=status)
    except Exception:  # the refusal stands even if the audit log cannot be written
        log.exception("could not audit a refused %s webhook call", provider)
    response = answer(status, error=str(error)[:300])
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="envoi webhooks"'
    return response


def body_of(request: HttpRequest) -> bytes | None:
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= MAX_BODY else None


def endpoint(provider: str, setting_name: str):
    """A webhook view: 404 when unconfigured, 413 past the size limit, 401/403 when
    refused (audited), 400 when verified but unreadable, 503 when SNS's own host could not
    be reached, 200 with what was kept."""

    def decorate(handler: Callable[[HttpRequest, bytes, str], dict[str, Any]]):
        @csrf_exempt
        def view(request: HttpRequest) -> JsonResponse:
            configured = setting(setting_name)
            if not configured:
                return answer(404, error=f"{provider} webhooks are not configured")
            if request.method != "POST":
                response = answer(405, error="only POST is accepted")
                response["Allow"] = "POST"
                return response
            body = body_of(request)
            if body is None:
                return answer(413, error="body too large")
            try:
                return answer(200, **handler(request, body, configured))
            except WebhookRefused as refused:
                return refuse(request, provider, refused)
            except UnreadableEvent as unreadable:
                return answer(400, error=str(unreadable))
            except OSError as unreachable:
                # SNS's certificate or confirmation URL could not be fetched: not the
                # caller's fault, and the provider retries on a 5xx.
                log.warning("%s webhook: %s", provider, unreachable)
                return answer(503, error="a provider host could not be reached; "
                                         "try again later")

        view.__name__ = f"{provider}_webhook"
        return view

    return decorate


class UnreadableEvent(Exception):
    """Verified, but not a payload of the provider's: answered 400, nothing kept."""


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise UnreadableEvent("the body is not JSON") from exc


def now() -> dt.datetime:
    return clock.now()


@endpoint("ses", "ENVOI_SNS_TOPICS")
def ses(request: HttpRequest, body: bytes, topics: str) -> dict[str, Any]:
    message, inbound = webhooks.receive_sns(
        body, sns_certificates, topics=set(topics.replace(",", " ").split()), now=now())
    if message.kind == "SubscriptionConfirmation":
        confirm_subscription(message.subscribe_url)
        return {"confirmed": message.topic_arn}
    return {"received": 0 if inbound is None else 1}


def confirm_subscription(url: str) -> None:
    """Visit the (verified, SNS-hosted) SubscribeURL, as SNS asks."""
    from urllib.request import urlopen

    if not webhooks.sns_url(url):
        raise WebhookRefused(f"subscription URL not on an SNS host: {url!r}")
    with urlopen(url, timeout=10) as response:  # noqa: S310 - https on SNS only
        response.read(64 * 1024)


@endpoint("sendgrid", "ENVOI_SENDGRID_PUBLIC_KEY")
def sendgrid(request: HttpRequest, body: bytes, public_key: str) -> dict[str, Any]:
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not signature and not timestamp:
        raise Unauthenticated("SendGrid signature headers missing")
    try:
        key = webhooks.sendgrid_public_key(public_key)
    except ValueError as exc:
        log.error("%s", exc)
        raise WebhookRefused("the configured SendGrid key is unusable") from exc
    webhooks.verify_sendgrid(body, signature, timestamp, key, now(), max_age())
    batch = json_body(body)
    if not isinstance(batch, list) or len(batch) > MAX_EVENTS:
        raise UnreadableEvent("a SendGrid call is a JSON array of events")
    kept = 0
    for event in batch:
        notification = events.sendgrid_event(event)
        if notification is not None:
            raw = json.dumps(event, ensure_ascii=False).encode("utf-8", "replace")
            receive_notification("sendgrid", raw, notification)
            kept += 1
    return {"received": kept}


@endpoint("mailgun", "ENVOI_MAILGUN_SIGNING_KEY")
def mailgun(request: HttpRequest, body: bytes, signing_key: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or "signature" not in document:
        raise Unauthenticated("Mailgun call without a signature")
    webhooks.verify_mailgun(document, signing_key, now(), max_age())
    notification = events.mailgun_event(document.get("event-data"))
    if notification is None:
        return {"received": 0}
    receive_notification("mailgun", body, notification)
    return {"received": 1}


@endpoint("postmark", "ENVOI_POSTMARK_CREDENTIALS")
def postmark(request: HttpRequest, body: bytes, credentials: str) -> dict[str, Any]:
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise Unauthenticated("basic authentication required")
    webhooks.verify_basic_auth(authorization, credentials)
    notification = events.postmark_event(json_body(body))
    if notification is None:
        return {"received": 0}
    receive_notification("postmark", body, notification)
    return {"received": 1}
