"""The ``envoi`` command: a thin face over the same services as the API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from envoi.accounts.roles import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from envoi.deliveries.models import Delivery

Handler = Callable[[argparse.Namespace], int]


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "envoi.settings")
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=args.verbosity)
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from django.contrib.auth.models import User
    from django.db import IntegrityError, transaction

    from envoi.accounts.services import create_user

    exists = f"envoi: a user named {args.name!r} exists already; choose another name"
    if User.objects.filter(username=args.name).exists():
        print(exists, file=sys.stderr)
        return 1
    if args.password is not None and not _password_ok(
            args.password, User(username=args.name, email=args.email)):
        return 2
    try:
        with transaction.atomic():
            user = create_user(args.name, args.role, password=args.password,
                               email=args.email)
    except IntegrityError:  # created by someone else since the check above
        print(exists, file=sys.stderr)
        return 1
    print(f"created user {user.username} with roles: {', '.join(sorted(args.role)) or '-'}")
    return 0


def _password_ok(password: str, user: User) -> bool:
    """Whether ``password`` passes the password rules; says each rule it breaks."""
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from envoi.accounts.services import validate_new_password

    with translation.override("en"):  # the command speaks English throughout
        try:
            validate_new_password(password, user)
        except ValidationError as error:
            for message in error.messages:
                print(f"envoi: password: {message}", file=sys.stderr)
            return False
    return True


def _user_named(name: str) -> User | None:
    from django.contrib.auth.models import User

    user = User.objects.filter(username=name).first()
    if user is None:
        print(f"envoi: no user named {name!r}", file=sys.stderr)
    return user


def _read_password(given: str | None) -> str | None:
    """``--password``, else typed twice at a terminal, else one line of stdin."""
    import getpass

    if given is not None:
        return given
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        print("envoi: the two passwords differ", file=sys.stderr)
        return None
    return first


def cmd_user_set_password(args: argparse.Namespace) -> int:
    from envoi.accounts import users
    from envoi.accounts.services import OPERATOR

    user = _user_named(args.name)
    if user is None:
        return 2
    password = _read_password(args.password)
    if password is None or not _password_ok(password, user):
        return 2
    users.set_password(OPERATOR, user, password)
    print(f"password of {user.username} changed; its sessions were ended")
    return 0


def cmd_user_activation(args: argparse.Namespace) -> int:
    from envoi.accounts import users
    from envoi.accounts.services import OPERATOR

    user = _user_named(args.name)
    if user is None:
        return 2
    if args.sub == "deactivate":
        users.deactivate(OPERATOR, user)
        print(f"deactivated {user.username}: its sessions and tokens no longer work")
    else:
        users.reactivate(OPERATOR, user)
        print(f"reactivated {user.username}")
    return 0


def cmd_user_reset_link(args: argparse.Namespace) -> int:
    from envoi.accounts import users
    from envoi.accounts.services import OPERATOR, AccountError

    user = _user_named(args.name)
    if user is None:
        return 2
    try:
        print(users.reset_link(OPERATOR, user))
    except AccountError as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from django.contrib.auth.models import User

    from envoi.accounts.services import roles_of

    for user in User.objects.order_by("username"):
        state = "active" if user.is_active else "deactivated"
        roles = ",".join(sorted(roles_of(user))) or "-"
        print(f"{user.username}\t{state}\t{roles}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from envoi.accounts import tokens
    from envoi.accounts.services import OPERATOR, AccountError

    user = _user_named(args.name)
    if user is None:
        return 2
    try:
        _row, clear = tokens.create(OPERATOR, user, args.label, args.expires_in)
    except AccountError as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 2
    print(clear)  # the token and nothing else: scripts read it
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from envoi import clock
    from envoi.accounts import tokens
    from envoi.accounts.services import OPERATOR

    owner = None
    if args.name is not None:
        owner = _user_named(args.name)
        if owner is None:
            return 2
    now = clock.now()
    print("id\tuser\tlabel\tcreated\texpires\tlast used\tstate")
    for token in tokens.list_tokens(OPERATOR, owner):
        print("\t".join([str(token.pk), token.user.username, token.name or "-",
                         _when(token.created_at), _when(token.expires_at),
                         _when(token.last_used_at), token.state_at(now)]))
    return 0


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from envoi.accounts import tokens
    from envoi.accounts.models import ApiToken
    from envoi.accounts.services import OPERATOR

    token = ApiToken.objects.filter(pk=args.id).first() if 0 < args.id < 2**63 else None
    if token is None:
        print(f"envoi: no token {args.id}", file=sys.stderr)
        return 2
    tokens.revoke(OPERATOR, token)
    print(f"token {token.pk} of {token.user.username} revoked")
    return 0


def cmd_profiles_import(args: argparse.Namespace) -> int:
    from django.utils import translation

    with translation.override(_terminal_language()):
        return _profiles_import(args)


def _terminal_language() -> str:
    """ko or ja when the terminal's locale says so (as gettext reads it), else en."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return value[:2].lower() if value[:2].lower() in ("ko", "ja") else "en"
    return "en"


def _profiles_import(args: argparse.Namespace) -> int:
    from envoi.audiences.importer import ImportFileError
    from envoi.audiences.services import AudienceError, import_csv
    from envoi.audiences.terminal import ProgressBar, count_data_lines

    try:
        types = dict(_attribute_type(text) for text in args.type or [])
        bar = ProgressBar(count_data_lines(args.file))
        with open(args.file, "rb") as stream:
            report = import_csv(None, stream, args.audience, check_role=False,
                                encoding=args.encoding, mode=args.mode, types=types,
                                progress=bar)
        bar.finish()
    except (ImportFileError, AudienceError, UnicodeDecodeError, OSError, ValueError) as error:
        print(f"envoi: {args.file}: {error}", file=sys.stderr)
        return 2
    for row_error in report.errors:
        print(f"{args.file}:{row_error.line}: {row_error.reason}", file=sys.stderr)
    print(f"created {report.created}, updated {report.updated}, skipped {report.skipped}, "
          f"rejected {report.error_count}")
    return 1 if report.error_count else 0


def _attribute_type(text: str) -> tuple[str, str]:
    key, equals, kind = text.partition("=")
    if not equals:
        raise ValueError(f"--type {text!r}: write KEY=TYPE, as in vip=boolean")
    return key.strip(), kind.strip()


def cmd_delivery(args: argparse.Namespace) -> int:
    from django.contrib.auth.models import User

    from envoi.accounts.services import PermissionDenied
    from envoi.deliveries import services
    from envoi.deliveries.lifecycle import InvalidTransition
    from envoi.deliveries.models import Delivery

    user = User.objects.filter(username=args.as_user).first()
    if user is not None and args.action in ("create", "show"):
        from envoi.deliveries.commands import run

        return run(args, user)
    delivery = Delivery.objects.filter(pk=args.id).first()
    if user is None or delivery is None or args.id is None:
        what = f"user {args.as_user!r}" if user is None else f"delivery {args.id}"
        print(f"envoi: no {what}", file=sys.stderr)
        return 2
    if args.action == "compute-stats":
        return _compute_stats(user, delivery)
    if args.action == "actions":
        _print_actions(user, delivery)
        return 0
    if args.action == "typology":
        return _set_typology(user, delivery, args.typology)
    name = "send_proof" if args.action == "proof" else args.action.replace("-", "_")
    action = getattr(services, name)
    extra = ([args.contact_date] if args.action == "reschedule"
             else [args.reason] if args.action == "reject" else [])
    try:
        if args.action == "reschedule" and not args.contact_date:
            raise services.DeliveryError("--contact-date: give the new date, e.g. "
                                         "2030-05-01T09:00 (in the delivery's time zone)")
        result = action(user, delivery, *extra)
    except (PermissionDenied, InvalidTransition, services.DeliveryError) as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 1
    if args.action == "delete":
        print(f"delivery {delivery.pk}: deleted")
        return 0
    status = getattr(result, "status", None) or f"proof {result['number']} sent"
    print(f"delivery {delivery.pk}: {status}")
    delivery.refresh_from_db()
    _print_actions(user, delivery)
    return 0


def _set_typology(user: User, delivery: Delivery, typology: str | None) -> int:
    """Name the market rule sets preparation checks; without --typology, show them."""
    from envoi.accounts.services import PermissionDenied
    from envoi.deliveries import services
    from envoi.deliveries.lifecycle import InvalidTransition

    if typology is not None:
        names = [name.strip() for name in typology.split(",") if name.strip()]
        try:
            delivery = services.update(user, delivery, typology=names)
        except (PermissionDenied, InvalidTransition, services.DeliveryError) as error:
            print(f"envoi: {error}", file=sys.stderr)
            return 1
    print(f"delivery {delivery.pk}: typology {', '.join(delivery.typology) or '(none)'}")
    return 0


def _print_actions(user: User, delivery: Delivery) -> None:
    """What ``user`` may do next (``services.available_actions``, as the API lists it)."""
    from envoi.deliveries.services import available_actions

    names = [name.replace("_", "-") for name in available_actions(user, delivery)]
    print(f"available actions: {', '.join(names) or 'none'}")


def _compute_stats(user: User, delivery: Delivery) -> int:
    """Print the recomputed KPIs as JSON (the API's compute-stats answer)."""
    from django.core.serializers.json import DjangoJSONEncoder

    from envoi.accounts.services import PermissionDenied
    from envoi.reporting import services

    try:
        result = services.compute_stats(user, delivery)
    except PermissionDenied as error:
        print(f"envoi: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, cls=DjangoJSONEncoder, indent=2, sort_keys=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers > 1:  # /metrics adds up the values of every process
        from envoi.config import data_dir
        from envoi.ops.metrics import use_multiprocess_dir

        use_multiprocess_dir(data_dir() / "metrics" / f"serve-{args.port}")
    # No per-request access log: at thousands of tracking hits a second it would cost
    # more than the hits themselves; put one in the reverse proxy if you need it.
    uvicorn.run("envoi.asgi:application", host=args.host, port=args.port,
                workers=args.workers, log_level="info", access_log=False,
                loop="uvloop", http="httptools")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import gc
    import signal

    from envoi.ops.commands import worker_sidecars
    from envoi.sending.worker import Worker

    if args.processes > 1:
        from envoi.sending.processes import run_processes

        forwarded = ["--until-idle"] if args.until_idle else []
        if args.batch_size:
            forwarded += ["--batch-size", str(args.batch_size)]
        with worker_sidecars(args, processes=args.processes):
            return run_processes(args.processes, forwarded, restart=not args.until_idle)
    worker = Worker(batch_size=args.batch_size)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    # What is loaded by now (Django, the apps, their modules) lives as long as the
    # process: the cyclic collector's full passes need not walk it again and again.
    gc.freeze()
    print(f"worker {worker.worker_id}: started", flush=True)
    with worker_sidecars(args):
        processed = worker.run(until_idle=args.until_idle)
    print(f"worker {worker.worker_id}: {processed} messages processed, "
          f"peak memory {peak_memory_mb():.0f} MB")
    return 0


def peak_memory_mb() -> float:
    """This process's own peak resident memory (``VmHWM``). ``getrusage``'s figure can be
    the parent's: Linux carries the peak of the process that forked and exec'd the
    worker into the worker's, so a large launcher would look like a large worker."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_bounces_listen(args: argparse.Namespace) -> int:
    import signal
    import threading

    from django.conf import settings

    from envoi.bounces.listener import BounceListener, parse_listen

    host, port = parse_listen(settings.ENVOI_BOUNCE_LISTEN)
    listener = BounceListener(args.host or host, args.port or port)
    listener.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"taking bounces for @{settings.ENVOI_BOUNCE_DOMAIN} on "
          f"{listener.host}:{listener.port}", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
    return 0


def cmd_bounces_import(args: argparse.Namespace) -> int:
    import mailbox

    from envoi.bounces.services import import_mailbox

    try:
        outcomes = import_mailbox(args.file)
    except (OSError, ValueError, mailbox.Error) as error:
        print(f"envoi: {args.file}: {error}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    print(f"imported {sum(outcomes.values())} messages: {summary or 'none'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from envoi.demo import run_demo

    return run_demo(host=args.host, port=args.port, smtp_port=args.smtp_port)


def _add_user_commands(commands) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="sub", required=True)
    create = user.add_parser("create", help="create a user with roles")
    create.add_argument("name")
    create.add_argument("--role", action="append", default=[],
                        choices=[r.value for r in Role])
    create.add_argument("--password", default=None,
                        help="must pass the password rules; without it, the user has "
                             "no password until one is set")
    create.add_argument("--email", default="")
    create.set_defaults(handler=cmd_user_create)
    set_password = user.add_parser(
        "set-password", help="set a user's password (asked twice, or read from stdin)")
    set_password.add_argument("name")
    set_password.add_argument("--password", default=None)
    set_password.set_defaults(handler=cmd_user_set_password)
    for name, help_text in [("deactivate", "stop a user's sign-ins, sessions and tokens"),
                            ("reactivate", "let a deactivated user sign in again")]:
        activation = user.add_parser(name, help=help_text)
        activation.add_argument("name")
        activation.set_defaults(handler=cmd_user_activation)
    reset = user.add_parser("reset-link", help="print a one-time link with which a user "
                            "chooses a new password")
    reset.add_argument("name")
    reset.set_defaults(handler=cmd_user_reset_link)
    user.add_parser("list", help="list users, their state and roles").set_defaults(
        handler=cmd_user_list)


def _add_token_commands(commands) -> None:
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="sub", required=True)
    token_create = token.add_parser("create", help="print a new bearer token for a user")
    token_create.add_argument("name", help="user name")
    token_create.add_argument("--label", default="cli")
    token_create.add_argument("--expires-in", type=int, default=None, metavar="DAYS",
                              help="the token stops working after this many days")
    token_create.set_defaults(handler=cmd_token_create)
    token_list = token.add_parser("list", help="list tokens (of one user, or all)")
    token_list.add_argument("name", nargs="?", default=None, help="user name")
    token_list.set_defaults(handler=cmd_token_list)
    token_revoke = token.add_parser("revoke", help="revoke a token by its id")
    token_revoke.add_argument("id", type=int)
    token_revoke.set_defaults(handler=cmd_token_revoke)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="envoi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="create or upgrade the database")
    migrate.add_argument("--verbosity", type=int, default=1)
    migrate.set_defaults(handler=cmd_migrate)

    _add_user_commands(commands)
    _add_token_commands(commands)

    profiles = commands.add_parser("profiles", help="load profiles").add_subparsers(
        dest="sub", required=True)
    load = profiles.add_parser("import", help="import a CSV file of profiles")
    load.add_argument("file")
    load.add_argument("--audience", help="also add them to this static list")
    load.add_argument("--encoding", help="the file's encoding: utf-8, euc-kr (cp949) or "
                      "shift_jis (cp932); detected when not given")
    load.add_argument("--mode", choices=("update", "skip", "add"), default="update",
                      help="what a row matching an existing profile does: update it "
                           "(default), skip it, or (add) report it")
    load.add_argument("--type", action="append", metavar="KEY=TYPE",
                      help="declare an attribute column's type: string, number, boolean "
                           "or date (repeatable; otherwise inferred from the first rows)")
    load.set_defaults(handler=cmd_profiles_import)

    delivery = commands.add_parser("delivery", help="create, show or act on a delivery")
    delivery.add_argument("action", choices=["create", "show", "prepare", "proof", "approve",
                                             "reject",
                                             "confirm", "pause", "resume", "stop",
                                             "activate", "withdraw-confirmation",
                                             "reschedule", "cancel-schedule", "archive",
                                             "unarchive", "delete", "compute-stats",
                                             "actions", "typology"])
    delivery.add_argument("id", type=int, nargs="?", help="the delivery (all but create)")
    delivery.add_argument("--contact-date", default=None,
                          help="reschedule: the new date (ISO 8601; without an offset, in "
                               "the delivery's time zone)")
    delivery.add_argument("--as", dest="as_user", required=True, help="acting user")
    delivery.add_argument("--typology", default=None,
                          help="typology: the market rule sets to check, comma-separated "
                               "(kr_advertising, jp_advertising, bulk_sender; \"\" for none)")
    delivery.add_argument("--reason", default="",
                          help="reject: why (required; the preparer reads it)")
    from envoi.deliveries.commands import add_arguments as add_create_arguments

    add_create_arguments(delivery)
    delivery.set_defaults(handler=cmd_delivery)

    serve = commands.add_parser("serve", help="serve the API and public pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="send queued messages")
    worker.add_argument("--until-idle", action="store_true",
                        help="exit once no message is left to send now")
    worker.add_argument("--batch-size", type=int, default=None)
    worker.add_argument("--processes", type=int, default=1,
                        help="run this many worker processes (one per core)")
    worker.add_argument("--health-port", type=int, default=None,
                        help="answer /healthz and /readyz on this port")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="answer /metrics (Prometheus) on this port")
    worker.add_argument("--listen", default="127.0.0.1",
                        help="address of the health and metrics ports (default: loopback)")
    worker.set_defaults(handler=cmd_worker)
    from envoi.ops.commands import add_commands

    add_commands(commands)
    from envoi.consent.commands import add_commands as add_consent_commands

    add_consent_commands(commands)
    from envoi.sending.email.commands import add_commands as add_dkim_commands

    add_dkim_commands(commands)

    bounces = commands.add_parser("bounces", help="take in bounces").add_subparsers(
        dest="sub", required=True)
    listen = bounces.add_parser("listen", help="receive bounces over SMTP "
                                "(default: ENVOI_BOUNCE_LISTEN)")
    listen.add_argument("--host", default=None)
    listen.add_argument("--port", type=int, default=None)
    listen.set_defaults(handler=cmd_bounces_listen)
    load_bounces = bounces.add_parser("import", help="take in an mbox file or a maildir")
    load_bounces.add_argument("file")
    load_bounces.set_defaults(handler=cmd_bounces_import)

    demo = commands.add_parser("demo", help="run everything in one process (embedded shape)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--smtp-port", type=int, default=2525)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        # The embedded shape sends into its own capture outbox and links to itself.
        os.environ.setdefault("ENVOI_SMTP_URL", f"smtp://127.0.0.1:{args.smtp_port}")
        os.environ.setdefault("ENVOI_BASE_URL", f"http://{args.host}:{args.port}")
    _setup()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
