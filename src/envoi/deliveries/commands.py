"""``envoi delivery create`` and ``envoi delivery show``: the CLI face of creating a
draft delivery (email or SMS) and of reading one, over the same service function and
permission as the API's ``POST /deliveries`` and ``GET /deliveries/{id}``.

Creating checks ``delivery.create`` before the audience is looked up, as the API does,
so a refused user learns nothing about which audiences exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``envoi delivery create`` (the API's DeliveryIn, by name)."""
    group = parser.add_argument_group("create (a draft delivery, as POST /deliveries)")
    group.add_argument("--label", help="create: the delivery's name (required)")
    group.add_argument("--channel", choices=("email", "sms"), default="email",
                       help="create: email (default) or sms")
    group.add_argument("--sender", help="create: a mailbox, or for SMS a short code, a "
                                        "number or a name of up to 11 characters")
    group.add_argument("--reply-to", default="", help="create: email only")
    group.add_argument("--subject", default="", help="create: email only")
    group.add_argument("--html-file", help="create: the email's HTML, read from this file")
    group.add_argument("--text-body", help="create: the text (the SMS, or email's text part)")
    group.add_argument("--text-file", help="create: the text, read from this file")
    group.add_argument("--audience", type=int, help="create: the audience id")
    group.add_argument("--max-parts", type=int, default=None,
                       help="create: SMS, the most parts one message may take (0: any)")
    group.add_argument("--track-links", action="store_true",
                       help="create: SMS, shorten and track the text's links")
    group.add_argument("--service", action="store_true",
                       help="create: a service message, not marketing")
    group.add_argument("--no-approval", action="store_true",
                       help="create: no approval step before sending")
    group.add_argument("--variant", action="append", default=[], metavar="LANG=FILE",
                       help="create: a language variant's text (SMS) or HTML (email), "
                            "read from FILE; repeatable")


def run(args: argparse.Namespace, user: Any) -> int:
    if args.action == "create":
        return create(args, user)
    if args.id is None:
        print("envoi: delivery show: give the delivery's id", file=sys.stderr)
        return 2
    return show(args, user)


def create(args: argparse.Namespace, user: Any) -> int:
    from envoi.accounts.services import PermissionDenied, require
    from envoi.deliveries import services

    try:
        require(user, "delivery.create")  # before the audience is looked up
        fields = _fields(args)
        delivery = services.create(user, **fields)
    except (PermissionDenied, services.DeliveryError, CommandError, OSError,
            UnicodeDecodeError) as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 1
    print(f"delivery {delivery.pk}: {delivery.status} ({delivery.channel})")
    _print_actions(user, delivery)
    return 0


class CommandError(ValueError):
    pass


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    from envoi.audiences.models import Audience

    if not args.label or not args.sender:
        raise CommandError("create: --label and --sender are required")
    if args.text_body is not None and args.text_file:
        raise CommandError("create: give --text-body or --text-file, not both")
    fields: dict[str, Any] = {
        "label": args.label, "channel": args.channel, "sender": args.sender,
        "reply_to": args.reply_to, "subject": args.subject,
        "html_body": _read(args.html_file) if args.html_file else "",
        "text_body": _read(args.text_file) if args.text_file else (args.text_body or ""),
        "is_marketing": not args.service, "approval_required": not args.no_approval,
        "track_links": args.track_links,
    }
    if args.max_parts is not None:
        fields["max_parts"] = args.max_parts
    if args.audience is not None:
        fields["audience"] = Audience.objects.filter(pk=args.audience).first()
        if fields["audience"] is None:
            raise CommandError(f"audience_id: audience {args.audience} not found")
    if args.variant:
        body = "text_body" if args.channel == "sms" else "html_body"
        fields["variants"] = [_variant(text, body) for text in args.variant]
    return fields


def _variant(text: str, body: str) -> dict[str, str]:
    language, equals, path = text.partition("=")
    if not equals or not path:
        raise CommandError(f"--variant {text!r}: write LANG=FILE, as in ko=spring.ko.txt")
    return {"language": language, body: _read(path)}


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def show(args: argparse.Namespace, user: Any) -> int:
    """The delivery as the API reads it, in a few lines: channel first."""
    from envoi.accounts.services import PermissionDenied
    from envoi.deliveries import services
    from envoi.deliveries.models import Delivery

    try:
        services.require_before_lookup(user, "delivery.view", args.id)
    except PermissionDenied as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 1
    delivery = Delivery.objects.filter(pk=args.id).first()
    if delivery is None:
        print(f"envoi: no delivery {args.id}", file=sys.stderr)
        return 2
    for name, value in _summary(delivery):
        print(f"{name + ':':<14}{value}")
    _print_actions(user, delivery)
    return 0


def _summary(delivery: Any) -> list[tuple[str, Any]]:
    from envoi.content.authoring import languages_of

    lines = [("delivery", delivery.pk), ("label", delivery.label),
             ("channel", delivery.channel), ("status", delivery.status),
             ("sender", delivery.sender),
             ("audience", delivery.audience_id if delivery.audience_id else "(none)"),
             ("languages", ", ".join(["default", *languages_of(delivery)])),
             ("to deliver", delivery.to_deliver)]
    if delivery.channel == delivery.SMS:
        lines += [("max parts", delivery.max_parts),
                  ("track links", "yes" if delivery.track_links else "no"),
                  ("parts", _parts(delivery.parts))]
    else:
        lines.append(("subject", delivery.subject))
    return lines


def _parts(parts: dict[str, Any]) -> str:
    if not parts:
        return "(not prepared)"
    text = f"{parts['total']} in all, {parts['min']} to {parts['max']} a message"
    for language, counted in (parts.get("by_variant") or {}).items():
        text += f"; {language or 'default'}: {counted['total']}"
    return text


def _print_actions(user: Any, delivery: Any) -> None:
    from envoi.deliveries.services import available_actions

    names = [name.replace("_", "-") for name in available_actions(user, delivery)]
    print(f"available actions: {', '.join(names) or 'none'}")
