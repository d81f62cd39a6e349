"""Profile endpoints: bulk JSON creation, streaming CSV import, and reading and editing
one profile (the console's edit, through the same service and permission)."""

from __future__ import annotations

import io
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError
from pydantic import Field

from envoi.accounts.services import require
from envoi.api.router import BadRequest, FieldErrors, get_or_404
from envoi.api.schemas import ImportOut, ProfileHistoryOut, ProfileOut, Strict
from envoi.audiences import importer, services
from envoi.audiences.models import Audience, AudienceMember, Profile
from envoi.consent import editing
from envoi.reporting.history import profile_history

router = Router()


def _report(report: importer.ImportReport) -> dict:
    return {"imported": report.imported, "created": report.created,
            "updated": report.updated, "skipped": report.skipped,
            "error_count": report.error_count,
            "errors": [{"line": e.line, "reason": e.reason} for e in report.errors]}


class RequestBody(io.RawIOBase):
    """The request body as a binary stream, read in chunks: memory stays bounded."""

    def __init__(self, request: HttpRequest):
        self.request = request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self.request.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def body_bytes(request: HttpRequest) -> io.BufferedReader:
    return io.BufferedReader(RequestBody(request), 1 << 16)


@router.post("", response=ImportOut)
def create_profiles(request: HttpRequest, payload: list[dict[str, Any]],
                    audience: str | None = None):
    """Create profiles from a JSON list; each bad item is reported by its 1-based index."""
    try:
        return _report(services.add_profiles(request.user, payload, audience))
    except services.AudienceError as error:
        raise BadRequest(str(error)) from error


@router.post("/import", response=ImportOut,
             openapi_extra={"requestBody": {"content": {"text/csv": {
                 "schema": {"type": "string"}}}, "required": True}})
def import_profiles(request: HttpRequest, audience: str | None = None,
                    encoding: str | None = None, mode: str = "update",
                    types: str | None = None):
    """Upsert a CSV body into profiles; each bad row is reported with its line number.

    Rows match existing profiles by ``external_id`` (when the file has the column) or by
    address, case-insensitive. ``mode``: ``update`` (default), ``skip`` or ``add`` (add
    only; matches are listed in ``errors``). ``types`` declares attribute column types,
    as in ``vip:boolean,age:number,since:date``; undeclared ones are inferred from the
    first rows. ``encoding`` is the body's: utf-8, euc-kr (cp949) or shift_jis (cp932);
    without it the Content-Type's charset is used, else the encoding is detected."""
    encoding = encoding or (request.content_params or {}).get("charset")
    declared = {}
    for part in (types or "").split(","):
        if part.strip():
            key, colon, kind = part.partition(":")
            if not colon:
                raise BadRequest("types: write KEY:TYPE pairs, as in vip:boolean,age:number")
            declared[key.strip()] = kind.strip()
    try:
        return _report(services.import_csv(request.user, body_bytes(request), audience,
                                           encoding=encoding, mode=mode, types=declared))
    except (importer.ImportFileError, UnicodeDecodeError) as error:
        raise BadRequest(f"CSV: {error}") from error
    except (services.AudienceError, ValueError) as error:
        raise BadRequest(str(error)) from error


class ProfileDetailOut(ProfileOut):
    lists: list[int]  # the static lists (audiences of kind "list") it belongs to


class ProfilePatch(Strict):
    """The fields to change; those left out keep their value. Setting ``email_opt_out``
    or ``sms_opt_out`` withdraws the channel's consent, with the proof kept."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = Field(None, description="en, ko or ja for recipient pages.")
    timezone: str | None = Field(None, description="An IANA name such as Asia/Seoul.")
    attributes: dict[str, Any] | None = Field(
        None, description="Replaces the attributes as a whole (typed JSON values).")
    email_opt_out: bool | None = None
    sms_opt_out: bool | None = None
    is_test: bool | None = None
    lists: list[int] | None = Field(
        None, description="Every static list the profile belongs to afterwards; the "
                          "lists not named are left.")


def _detail(profile: Profile) -> dict[str, Any]:
    data = {name: getattr(profile, name) for name in ProfileOut.model_fields}
    data["lists"] = sorted(AudienceMember.objects.filter(
        profile_id=profile.pk, audience__kind=Audience.LIST).values_list("audience_id",
                                                                          flat=True))
    return data


@router.get("/{profile_id}", response=ProfileDetailOut)
def read_profile(request: HttpRequest, profile_id: int):
    require(request.user, "profile.view")
    return _detail(get_or_404(Profile, profile_id, "Profile"))


@router.patch("/{profile_id}", response=ProfileDetailOut)
def edit_profile(request: HttpRequest, profile_id: int, payload: ProfilePatch):
    """Change a profile as the console's edit does, audited as ``profile.edit``. Refused
    values answer 400 with ``errors``: each field and what is wrong with it, in the
    request's language; nothing is stored then. An erased profile answers 409."""
    require(request.user, "profile.edit")  # before the lookup: no existence oracle
    profile = get_or_404(Profile, profile_id, "Profile")
    values = payload.model_dump(exclude_unset=True)
    lists = values.pop("lists", None)
    if "lists" in payload.model_fields_set and lists is None:
        raise FieldErrors({"lists": _("Must be a list of static list ids.")})
    change = editing.ProfileChange(values=values,
                                   lists=None if lists is None else set(lists))
    try:
        editing.edit_profile(request.user, profile, change)
    except editing.ProfileErased as error:
        raise HttpError(409, str(error)) from error
    except editing.ProfileError as error:
        raise FieldErrors(error.errors) from error
    return _detail(profile)


@router.get("/{profile_id}/history", response=ProfileHistoryOut)
def read_profile_history(request: HttpRequest, profile_id: int):
    """Messages sent to the profile and its tracking events, newest first (SPEC §10)."""
    require(request.user, "logs.view")  # before the lookup: no existence oracle
    return profile_history(request.user, get_or_404(Profile, profile_id, "Profile"))
