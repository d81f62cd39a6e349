"""Audiences: saved filters and static lists."""

from __future__ import annotations

from django.db import connection

from envoi.accounts.services import Actor, audit, require
from envoi.audiences.filters import check_filter, compile_filter
from envoi.audiences.models import Audience


def create_audience(user: Actor, name: str, filter_text: str = "",
                    kind: str = Audience.FILTER) -> Audience:
    require(user, "audience.edit")
    if kind == Audience.FILTER:
        check_filter(filter_text)
    audience = Audience.objects.create(name=name, kind=kind, filter=filter_text)
    audit(user, "audience.create", audience=audience.pk, name=name)
    return audience


def list_audience(name: str) -> Audience:
    """The static list of that name, made on first use (CSV imports fill it)."""
    audience, _ = Audience.objects.get_or_create(name=name, defaults={"kind": Audience.LIST})
    return audience


def count_audience(audience: Audience) -> int:
    """Profiles the audience selects before exclusions (test profiles left out)."""
    if audience.kind == Audience.LIST:
        return audience.members.filter(profile__is_test=False).count()
    compiled = compile_filter(audience.filter, connection.vendor, alias="p")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM audiences_profile p "  # noqa: S608
                       f"WHERE NOT p.is_test AND ({compiled.sql})", compiled.params)
        return cursor.fetchone()[0]
