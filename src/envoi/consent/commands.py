"""``envoi profile erase`` and ``envoi profile export``: privacy requests from the
command line, as the operator (audited under the command line's name)."""

from __future__ import annotations

import argparse
import json
import sys


def add_commands(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser(
        "profile", help="act on one person's data (erase, export)").add_subparsers(
        dest="sub", required=True)
    erase = profile.add_parser(
        "erase", help="erase a profile: its address survives only as a keyed hash in "
                      "the suppression list, and past KPIs stay as they were")
    erase.add_argument("id", type=int, help="the profile's id")
    erase.set_defaults(handler=cmd_profile_erase)
    export = profile.add_parser(
        "export", help="print everything held about a profile, as JSON")
    export.add_argument("id", type=int, help="the profile's id")
    export.set_defaults(handler=cmd_profile_export)


def _profile(profile_id: int):  # type: ignore[no-untyped-def]
    from envoi.audiences.models import Profile

    profile = Profile.objects.filter(pk=profile_id).first() if 0 < profile_id < 2**63 else None
    if profile is None:
        print(f"envoi: profile {profile_id} does not exist.", file=sys.stderr)
    return profile


def cmd_profile_erase(args: argparse.Namespace) -> int:
    from envoi.accounts.services import OPERATOR
    from envoi.consent import erasure

    profile = _profile(args.id)
    if profile is None:
        return 1
    try:
        report = erasure.erase_profile(OPERATOR, profile)
    except erasure.AlreadyErased as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 1
    channels = ", ".join(report.suppressed) or "none"
    print(f"Profile {report.profile_id} erased: {report.messages} sent messages kept "
          f"as anonymous rows; suppressed channels: {channels}.")
    return 0


def cmd_profile_export(args: argparse.Namespace) -> int:
    from envoi.accounts.services import OPERATOR
    from envoi.consent import erasure

    profile = _profile(args.id)
    if profile is None:
        return 1
    data = erasure.export_profile(OPERATOR, profile)
    json.dump(data, sys.stdout, default=str, ensure_ascii=False, indent=2)
    print()
    return 0
