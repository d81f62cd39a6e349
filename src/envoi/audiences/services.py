"""Audiences: saved filters and static lists."""

from __future__ import annotations

from typing import IO, Any

from django.db import connection

from envoi.accounts.services import Actor, audit, require
from envoi.audiences.filters import check_filter, compile_filter
from envoi.audiences.importer import ImportReport, create_profiles, import_profiles_csv
from envoi.audiences.models import Audience, Profile


def create_audience(user: Actor, name: str, filter_text: str = "",
                    kind: str = Audience.FILTER) -> Audience:
    require(user, "audience.edit")
    if kind == Audience.FILTER:
        check_filter(filter_text)
    audience = Audience.objects.create(name=name, kind=kind, filter=filter_text)
    audit(user, "audience.create", audience=audience.pk, name=name)
    return audience


def update_audience(user: Actor, audience: Audience, name: str, filter_text: str = "") -> Audience:
    """Rename an audience and, for a saved filter, change its filter."""
    require(user, "audience.edit")
    if audience.kind == Audience.FILTER:
        check_filter(filter_text)
        audience.filter = filter_text
    audience.name = name
    audience.save(update_fields=["name", "filter", "updated_at"])
    audit(user, "audience.edit", audience=audience.pk, name=name)
    return audience


class AudienceError(ValueError):
    """An audience used in a way its kind does not allow."""


class AudienceInUse(AudienceError):
    """An audience that deliveries still name cannot be deleted."""

    def __init__(self, audience: Audience, uses: list[tuple[int, str]]) -> None:
        self.uses = uses
        names = ", ".join(f"{label!r} ({pk})" for pk, label in uses[:5])
        super().__init__(f"audience: {audience.name!r} is used by {len(uses)} "
                         f"delivery(ies): {names}; it cannot be deleted.")


def audience_uses(audience: Audience) -> list[tuple[int, str]]:
    """The deliveries that target the audience, newest first, as (id, label). Read
    through the reverse relation: audiences sit below deliveries and do not import them."""
    return list(audience.delivery_set.order_by("-id").values_list("pk", "label"))


def delete_audience(user: Actor, audience: Audience) -> None:
    """Delete an audience no delivery targets; one in use says where it is used."""
    require(user, "audience.edit")
    uses = audience_uses(audience)
    if uses:
        raise AudienceInUse(audience, uses)
    audit(user, "audience.delete", audience=audience.pk, name=audience.name)
    audience.delete()


def list_audience(name: str) -> Audience:
    """The static list of that name, made on first use (CSV imports fill it)."""
    audience, _ = Audience.objects.get_or_create(name=name, defaults={"kind": Audience.LIST})
    if audience.kind != Audience.LIST:
        raise AudienceError(f"audience: {name!r} is a filter, not a static list: "
                            "profiles cannot be added to it.")
    return audience


def list_members(audience: Audience):
    """The profiles of a static list, in the order they joined it."""
    return Profile.objects.filter(audiencemember__audience=audience).order_by(
        "audiencemember__id")


def count_audience(audience: Audience) -> int:
    """Profiles the audience selects before exclusions (test profiles left out)."""
    if audience.kind == Audience.LIST:
        return audience.members.filter(profile__is_test=False).count()
    compiled = compile_filter(audience.filter, connection.vendor, alias="p")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM audiences_profile p "  # noqa: S608
                       f"WHERE NOT p.is_test AND ({compiled.sql})", compiled.params)
        return cursor.fetchone()[0]


def count_filter(filter_text: str) -> int:
    """Profiles a filter would select now (test profiles left out); raises
    :class:`~envoi.audiences.filters.FilterError` for a filter with a mistake."""
    check_filter(filter_text)
    return count_audience(Audience(kind=Audience.FILTER, filter=filter_text))


def import_csv(user: Actor, stream: IO[Any], list_name: str | None = None,
               *, check_role: bool = True, encoding: str | None = None) -> ImportReport:
    """Stream a CSV file into profiles (and a static list); the import is audited.

    ``encoding`` names the file's (UTF-8, EUC-KR or Shift_JIS); without it, it is detected.
    The CLI runs as the operator of the installation and passes ``check_role=False``.
    """
    if check_role:
        require(user, "profile.import")
    audience = list_audience(list_name) if list_name else None
    report = import_profiles_csv(stream, audience=audience, encoding=encoding)
    _audit_import(user, "profile.import", report, list_name)
    return report


def add_profiles(user: Actor, rows: list[dict], list_name: str | None = None) -> ImportReport:
    require(user, "profile.import")
    audience = list_audience(list_name) if list_name else None
    report = create_profiles(rows, audience=audience)
    _audit_import(user, "profile.create", report, list_name)
    return report


def _audit_import(user: Actor, action: str, report: ImportReport,
                  list_name: str | None) -> None:
    audit(user, action, imported=report.imported, refused=report.error_count,
          audience=list_name or "")


def set_test_profile(user: Actor, profile: Any, is_test: bool) -> None:
    """Mark (or unmark) a test profile: it receives proofs, and no delivery targets it."""
    require(user, "profile.mark_test")
    type(profile).objects.filter(pk=profile.pk).update(is_test=is_test)
    profile.is_test = is_test
    audit(user, "profile.mark_test", profile_id=profile.pk, is_test=is_test)
