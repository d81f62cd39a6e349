"""A delivery's message rendered as one profile, in one variant, without sending it.

The rendering is the sending renderer's own, as for a proof: links keep their real
targets and there is no open pixel, so previewing never records a tracking event.
``links`` says which of them the sent message tracks.
"""

from __future__ import annotations

import html
from typing import Any

from django.db import connection
from django.db.models.functions import Lower, Trim
from liquid.exceptions import LiquidError

from envoi.audiences.models import Profile
from envoi.content.authoring import compiled, sendable, variants_of
from envoi.content.checks import content_findings
from envoi.content.language import variant_of
from envoi.deliveries.content import environment
from envoi.deliveries.liquid import PersonalizationError
from envoi.deliveries.models import Delivery
from envoi.preparation.control import ERROR, Finding
from envoi.sending.render import PROOF_ROW, DeliveryRenderer
from envoi.tracking import links


class PreviewError(ValueError):
    pass


def sample_profile(delivery: Delivery) -> dict[str, Any]:
    """A profile of the delivery's audience (the first by id); any profile without one."""
    found = sample_profiles(delivery, 1)
    if found:
        return found[0]
    anyone = Profile.objects.exclude(email="").order_by("id").values().first()
    return dict(anyone) if anyone else {}


def sample_profiles(delivery: Delivery, limit: int = 5) -> list[dict[str, Any]]:
    """The first ``limit`` profiles of the delivery's audience (by id), test profiles
    left out as targeting leaves them out; none when it has no audience."""
    from envoi.preparation.targeting import audience_condition

    if delivery.audience is None:
        return []
    try:
        sql, params = audience_condition(delivery.audience)
    except ValueError:
        return []
    if not sql:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT p.id FROM {Profile._meta.db_table} p WHERE "
                       f"NOT p.is_test AND p.email <> '' AND ({sql}) ORDER BY p.id "
                       f"LIMIT {int(limit)}", params)
        ids = [row[0] for row in cursor.fetchall()]
    return [dict(found) for found in Profile.objects.filter(pk__in=ids).order_by("id").values()]


def variant_samples(delivery: Delivery) -> dict[str, int | None]:
    """For each variant, a profile that receives it: the first of the prepared sending
    log with that variant; None when no recipient gets the variant (or before
    preparation), where the preview falls back to a sample of the audience."""
    from envoi.sending.models import SendingLog

    languages = [variant.language for variant in variants_of(delivery)]
    found: dict[str, int | None] = dict.fromkeys(languages)
    for language in languages:
        found[language] = (SendingLog.objects.filter(delivery=delivery, variant=language)
                           .order_by("id").values_list("profile_id", flat=True).first())
    return found


def chosen_profile(delivery: Delivery, profile_id: int | None, email: str | None
                   ) -> dict[str, Any]:
    if profile_id is not None:
        found = Profile.objects.filter(pk=profile_id).values().first()
        if found is None:
            raise PreviewError(f"profile_id: profile {profile_id} does not exist.")
        return dict(found)
    if email:
        found = (Profile.objects.annotate(email_key=Lower(Trim("email")))
                 .filter(email_key=email.strip().lower()).order_by("id").values().first())
        if found is None:
            raise PreviewError(f"email: no profile has the address {email!r}.")
        return dict(found)
    return sample_profile(delivery)


def preview(delivery: Delivery, profile_id: int | None = None, email: str | None = None,
            language: str | None = None) -> dict[str, Any]:
    variants = [compiled(variant) for variant in variants_of(delivery)]
    by_language = {variant.language: variant for variant in variants}
    profile = chosen_profile(delivery, profile_id, email)
    if language is None:
        language = variant_of(profile.get("language") or "", by_language)
    elif language not in by_language:
        raise PreviewError(f"language: the delivery has no {language!r} variant.")
    variant = by_language[language]
    view = sendable(delivery, variant)
    findings = content_findings(delivery, variants)
    if delivery.audience_id is None:  # as preparation would say
        findings.append(Finding(ERROR, "audience.missing", "The delivery has no audience.",
                                "audience"))
    try:
        subject, text, html_part, size, link_rows = _rendered(view, profile)
    except PersonalizationError as error:
        # A template that does not parse is already a finding; one that breaks on this
        # profile's values (or reaches a render limit) becomes one here.
        if not any(finding.field == error.field for finding in findings):
            findings.append(Finding(ERROR, error.reason, error.message, error.field,
                                    error.line, error.column))
        subject, text, html_part, size, link_rows = variant.subject, "", "", 0, []
    except (LiquidError, ValueError):
        # Nothing renders (no content): the findings say why, on the fields concerned.
        subject, text, html_part, size, link_rows = variant.subject, "", "", 0, []
    return {
        "language": language,
        "profile": {key: profile.get(key) for key in ("id", "email", "first_name",
                                                     "last_name", "language")},
        "subject": subject,
        "preheader": variant.preheader,
        "html": html_part,
        "text": text,
        "links": link_rows,
        "size": size,
        "findings": [finding.__dict__ for finding in findings],
    }


def _rendered(view: Delivery, profile: dict[str, Any]
              ) -> tuple[str, str, str, int, list[dict]]:
    """Subject, text, HTML, message size and links of the message as ``profile``."""
    renderer = DeliveryRenderer(view)
    message = renderer.render(PROOF_ROW, profile.get("email") or "preview@invalid.test",
                              profile, message_key=f"{view.pk}.preview.envoi")
    context, slots = renderer.context(PROOF_ROW, profile)
    subject, text, html_part = renderer.parts(context, slots)
    return (subject, text, html_part, len(message.data),
            link_list(view.html_body, slots.texts(), context))


def link_list(html_source: str, rendered: list[str], context: dict[str, Any]
              ) -> list[dict]:
    """Every link of the HTML with its target for this profile and whether the sent
    message tracks it (unsubscribe, mirror, mailto and the like are never tracked)."""
    rows: list[dict] = []
    tracked_index = 0
    for href in links._hrefs(html_source):
        is_tracked = links._tracked_kind(href.source) is not None
        if is_tracked:
            url = rendered[tracked_index]
            tracked_index += 1
        else:
            url = _render(href.source, context)
        rows.append({"url": html.unescape(url), "written": href.source,
                     "tracked": is_tracked})
    return rows


def _render(source: str, context: dict[str, Any]) -> str:
    if "{" not in source:
        return source
    try:
        return environment.from_string(source).render(**context)
    except LiquidError:
        return source
