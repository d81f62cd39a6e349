"""``envoi dkim``: create, list and retire a sending domain's DKIM keys."""

from __future__ import annotations

import argparse
import sys


def add_commands(commands: argparse._SubParsersAction) -> None:
    dkim = commands.add_parser("dkim", help="DKIM keys of sending domains").add_subparsers(
        dest="sub", required=True)
    create = dkim.add_parser(
        "create", help="create an RSA-2048 and an Ed25519 key for DOMAIN under SELECTOR-rsa "
        "and SELECTOR-ed25519, and print the DNS records to publish")
    create.add_argument("domain")
    create.add_argument("--selector", required=True)
    create.set_defaults(handler=cmd_dkim_create)
    retire = dkim.add_parser("retire", help="stop signing with a selector's keys")
    retire.add_argument("domain")
    retire.add_argument("--selector", required=True)
    retire.set_defaults(handler=cmd_dkim_retire)
    listing = dkim.add_parser("list", help="list the keys and their DNS records")
    listing.add_argument("domain", nargs="?", default=None)
    listing.set_defaults(handler=cmd_dkim_list)


def cmd_dkim_create(args: argparse.Namespace) -> int:
    from envoi.accounts.services import OPERATOR
    from envoi.sending.email import keys

    try:
        created = keys.create_keys(OPERATOR, args.domain, args.selector)
    except keys.DkimError as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 2
    print(f"; DKIM keys for {created[0].domain.domain}: publish these TXT records, "
          "then mail From this domain is signed with both.")
    for key in created:
        print(keys.dkim_zone_line(key))
    return 0


def cmd_dkim_retire(args: argparse.Namespace) -> int:
    from envoi.accounts.services import OPERATOR
    from envoi.sending.email import keys

    try:
        retired = keys.retire_selector(OPERATOR, args.domain, args.selector)
    except keys.DkimError as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 2
    print(f"retired {retired} key(s) of {args.domain} under {args.selector}; "
          "their records may be removed once the mail they signed has been read")
    return 0


def cmd_dkim_list(args: argparse.Namespace) -> int:
    from envoi.sending.email import keys
    from envoi.sending.email.models import DkimKey

    found = DkimKey.objects.select_related("domain")
    if args.domain:
        found = found.filter(domain__domain=keys.normalize_domain(args.domain))
    for key in found:
        state = f"retired {key.retired_at:%Y-%m-%d}" if key.retired_at else "active"
        print(f"; {key.domain.domain} {key.selector} {key.algorithm} {state}")
        print(keys.dkim_zone_line(key))
    return 0
