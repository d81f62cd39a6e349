"""``envoi check``: is this installation safe to run, and to run in production?

One list, one verdict per line:

* ``ok``: as it should be;
* ``warning``: works, but costs something (speed, headroom) — never fails the check;
* ``unsafe``: works, but must not go to production (``--deploy`` exits 1);
* ``error``: does not work (the check exits 1 whatever the options).

Every finding says what was found and what to do, in the reader's language.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from envoi.config import SmtpConfig, relays_from_url, secret_key

OK, WARNING, UNSAFE, ERROR = "ok", "warning", "unsafe", "error"
VERDICTS = {OK: gettext_lazy("ok"), WARNING: gettext_lazy("warning"),
            UNSAFE: gettext_lazy("unsafe"), ERROR: gettext_lazy("error")}

# Connections a process may hold at once: a worker's loop, plus one while its health
# or metrics port answers; a server's request thread, tracking flusher and bounce
# listener. Superuser-reserved connections are not counted as available.
CONNECTIONS_PER_WORKER = 2
CONNECTIONS_PER_SERVER = 3
SKEW_WARNING_SECONDS = 1.0
SKEW_UNSAFE_SECONDS = 5.0
WEAK_KEYS = {"secret", "changeme", "change-me", "password", "envoi", "demo", "test"}
MIN_KEY_LENGTH = 32
MIN_KEY_CHARACTERS = 12


@dataclass(frozen=True)
class Finding:
    topic: str
    verdict: str
    message: str


@dataclass(frozen=True)
class Plan:
    """What the operator means to run against this database, across all hosts."""

    workers: int = 1
    servers: int = 1


def run_checks(plan: Plan) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(plan))
    return findings


def failed(findings: list[Finding], *, deploy: bool) -> bool:
    bad = {ERROR, UNSAFE} if deploy else {ERROR}
    return any(finding.verdict in bad for finding in findings)


# -- configuration -------------------------------------------------------------------


def check_configuration(plan: Plan) -> Iterator[Finding]:
    topic = _("configuration")
    from envoi.ops.access import parse_allow
    from envoi.sending.ratelimit import parse_domain_limits

    for name, parse in (("ENVOI_SMTP_URL", relays_from_url),
                        ("ENVOI_METRICS_ALLOW", parse_allow),
                        ("ENVOI_DOMAIN_RATE_LIMITS", parse_domain_limits)):
        try:
            parse(getattr(settings, name))
        except ValueError as error:
            yield Finding(topic, ERROR, _("%(name)s is not valid: %(error)s")
                          % {"name": name, "error": error})
            return
    if settings.DEBUG:
        yield Finding(topic, UNSAFE, _("ENVOI_DEBUG is on: error pages show the code and "
                                       "settings to anyone. Set ENVOI_DEBUG=0."))
    if settings.ENVOI_LEASE_SECONDS < 10 or settings.ENVOI_BATCH_SIZE < 1:
        yield Finding(topic, ERROR, _("ENVOI_LEASE_SECONDS must be at least 10 and "
                                      "ENVOI_BATCH_SIZE at least 1."))
        return
    yield Finding(topic, OK, _("settings read: batch of %(batch)s rows, lease of "
                               "%(lease)s s, public address %(url)s")
                  % {"batch": settings.ENVOI_BATCH_SIZE, "lease": settings.ENVOI_LEASE_SECONDS,
                     "url": settings.ENVOI_BASE_URL})


def check_retention(plan: Plan) -> Iterator[Finding]:
    """The retention periods in one line; a warning when messages would be anonymised
    while their tracking links still answer (a click would then belong to no one)."""
    topic = _("retention")
    forever = _("for ever")
    values = {"events": settings.ENVOI_RETENTION_EVENTS_DAYS,
              "months": settings.ENVOI_RETENTION_SENDING_MONTHS,
              "bounces": settings.ENVOI_RETENTION_BOUNCES_DAYS,
              "audit": settings.ENVOI_RETENTION_AUDIT_DAYS}
    if min(values.values()) < 0:
        yield Finding(topic, ERROR, _("the ENVOI_RETENTION_* settings cannot be negative "
                                      "(0 keeps a log for ever)."))
        return
    days, months_of = _("%(n)s days"), _("%(n)s months")
    shown = {name: (months_of if name == "months" else days) % {"n": value} if value
             else forever for name, value in values.items()}
    yield Finding(topic, OK, _("tracking events: %(events)s; sending log: %(months)s; "
                               "bounce messages: %(bounces)s; audit: %(audit)s") % shown)
    months = values["months"]
    if months and months * 30 < settings.ENVOI_TRACKING_DAYS:
        yield Finding(topic, WARNING, _(
            "ENVOI_RETENTION_SENDING_MONTHS (%(months)s) ends before tracking links expire "
            "(ENVOI_TRACKING_DAYS=%(days)s): clicks on anonymised messages count for no "
            "profile.") % {"months": months, "days": settings.ENVOI_TRACKING_DAYS})


# -- relays --------------------------------------------------------------------------


def check_relays(plan: Plan) -> Iterator[Finding]:
    try:
        relays = relays_from_url(settings.ENVOI_SMTP_URL)
    except ValueError:
        return  # said under configuration
    for relay in relays:
        yield from check_relay(relay)


def check_relay(relay: SmtpConfig) -> Iterator[Finding]:
    topic = _("relay %(name)s") % {"name": relay.name}
    try:
        features, tls = relay_features(relay)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
        yield Finding(topic, ERROR, _("cannot be reached or refused the session: %(error)s")
                      % {"error": str(error) or type(error).__name__})
        return
    yes, no = _("yes"), _("no")
    offered = ", ".join(f"{name} {yes if name.lower() in features else no}"
                        for name in ("8BITMIME", "PIPELINING", "STARTTLS"))
    if relay.starttls and "starttls" not in features:
        yield Finding(topic, ERROR, _("starttls=1 is configured but the relay does not offer "
                                      "STARTTLS (EHLO: %(offered)s)") % {"offered": offered})
        return
    if not tls and not on_loopback(relay.host):
        yield Finding(topic, UNSAFE, _("messages cross the network unencrypted: use "
                                       "smtps:// or ?starttls=1 (EHLO: %(offered)s)")
                      % {"offered": offered})
        return
    missing = [name for name in ("8BITMIME", "PIPELINING") if name.lower() not in features]
    if missing:
        yield Finding(topic, WARNING, _("reached, but without %(missing)s: sending is slower "
                                        "(EHLO: %(offered)s)")
                      % {"missing": ", ".join(missing), "offered": offered})
        return
    yield Finding(topic, OK, _("reached (EHLO: %(offered)s)") % {"offered": offered})


def relay_features(relay: SmtpConfig, timeout: float = 10.0) -> tuple[set[str], bool]:
    """The extensions the relay's EHLO answer names (before STARTTLS), and whether the
    session ended up encrypted; logs in when a user name is configured."""
    client: smtplib.SMTP
    if relay.use_tls:
        client = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
    try:
        client.ehlo()
        features = set(client.esmtp_features)
        tls = relay.use_tls
        if relay.starttls and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
            tls = True
        if relay.username:
            client.login(relay.username, relay.password)
        return features, tls
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def on_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# -- database ------------------------------------------------------------------------


def check_database(plan: Plan) -> Iterator[Finding]:
    from envoi.ops.health import readiness

    topic = _("database")
    state = readiness()
    if not state.ready:
        yield Finding(topic, ERROR, _("not ready: %(detail)s. Is it running? Then run "
                                      "`envoi migrate`.") % {"detail": state.detail})
        return
    if connection.vendor != "postgresql":
        yield Finding(topic, UNSAFE, _("SQLite serves the embedded shape on one host; "
                                       "production runs on PostgreSQL "
                                       "(ENVOI_DATABASE_URL=postgresql://…)."))
        return
    yield from check_postgres_settings(topic, plan)


def check_postgres_settings(topic: str, plan: Plan) -> Iterator[Finding]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit'), "
                       "current_setting('max_connections')::int, "
                       "current_setting('superuser_reserved_connections')::int")
        synchronous_commit, max_connections, reserved = cursor.fetchone()
    if synchronous_commit == "off":
        yield Finding(topic, UNSAFE, _("synchronous_commit is off: after a crash of "
                                       "PostgreSQL, recorded outcomes can vanish and their "
                                       "messages be sent again. Set it to on."))
    else:
        yield Finding(topic, OK, _("synchronous_commit is %(value)s")
                      % {"value": synchronous_commit})
    available = max_connections - reserved
    needed = (plan.workers * CONNECTIONS_PER_WORKER + plan.servers * CONNECTIONS_PER_SERVER)
    values = {"needed": needed, "workers": plan.workers, "servers": plan.servers,
              "available": available}
    if needed > available:
        yield Finding(topic, UNSAFE, _("%(workers)s workers and %(servers)s servers need up "
                                       "to %(needed)s connections; max_connections leaves "
                                       "%(available)s. Raise max_connections or put "
                                       "PgBouncer in front.") % values)
    elif needed > available * 0.8:
        yield Finding(topic, WARNING, _("%(workers)s workers and %(servers)s servers need up "
                                        "to %(needed)s of %(available)s connections: little "
                                        "headroom.") % values)
    else:
        yield Finding(topic, OK, _("%(workers)s workers and %(servers)s servers need up to "
                                   "%(needed)s of %(available)s connections") % values)


# -- secret key ----------------------------------------------------------------------


def check_secret_key(plan: Plan) -> Iterator[Finding]:
    from envoi.config import env

    topic = _("secret key")
    configured = env("ENVOI_SECRET_KEY")
    key = configured or secret_key()
    if not configured:
        yield Finding(topic, UNSAFE, _("ENVOI_SECRET_KEY is not set: this host generated its "
                                       "own key, and links signed by another host will not "
                                       "verify here. Set the same key on every host."))
    elif weak_key(key):
        yield Finding(topic, UNSAFE, _("ENVOI_SECRET_KEY is too weak: use at least "
                                       "%(length)s random characters, e.g. from "
                                       "`python -c \"import secrets; "
                                       "print(secrets.token_urlsafe(48))\"`.")
                      % {"length": MIN_KEY_LENGTH})
    else:
        yield Finding(topic, OK, _("ENVOI_SECRET_KEY is set and strong"))
    yield from check_key_on_hosts(topic)


def weak_key(key: str) -> bool:
    lowered = key.lower()
    return (len(key) < MIN_KEY_LENGTH or len(set(key)) < MIN_KEY_CHARACTERS
            or lowered in WEAK_KEYS or lowered.startswith("django-insecure"))


def check_key_on_hosts(topic: str) -> Iterator[Finding]:
    """Workers alive with another key sign links this host cannot verify."""
    from envoi.ops.keys import key_fingerprint
    from envoi.ops.queries import workers

    try:
        others = sorted({worker.host for worker in workers() if not worker.lost
                         and worker.key_fingerprint != key_fingerprint()})
    except DatabaseError:
        return  # said under database
    if others:
        yield Finding(topic, UNSAFE, _("workers on %(hosts)s sign with another "
                                       "ENVOI_SECRET_KEY than this host")
                      % {"hosts": ", ".join(others)})


# -- https -----------------------------------------------------------------------------


def check_https(plan: Plan) -> Iterator[Finding]:
    topic = _("https")
    if not settings.ENVOI_BASE_URL.startswith("https://"):
        yield Finding(topic, UNSAFE, _("ENVOI_BASE_URL is %(url)s: links in messages and "
                                       "console sign-ins travel unencrypted. Serve Envoi "
                                       "behind https and set an https:// address.")
                      % {"url": settings.ENVOI_BASE_URL})
    insecure = [name for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
                if not getattr(settings, name, False)]
    if insecure:
        yield Finding(topic, UNSAFE, _("cookies may be sent over plain http (%(names)s "
                                       "off); they are secure once ENVOI_BASE_URL is https.")
                      % {"names": ", ".join(insecure)})
    if settings.ENVOI_BASE_URL.startswith("https://") and not insecure:
        yield Finding(topic, OK, _("public address is https and cookies are secure"))


# -- clock -----------------------------------------------------------------------------


def check_clock(plan: Plan) -> Iterator[Finding]:
    topic = _("clock")
    try:
        skew = clock_skew()
    except DatabaseError:
        return  # said under database
    values = {"skew": f"{skew:+.3f}"}
    if abs(skew) < SKEW_WARNING_SECONDS:
        yield Finding(topic, OK, _("host and database agree (%(skew)s s)") % values)
    elif abs(skew) < SKEW_UNSAFE_SECONDS:
        yield Finding(topic, WARNING, _("host and database differ by %(skew)s s: run NTP "
                                        "(chrony, systemd-timesyncd)") % values)
    else:
        yield Finding(topic, UNSAFE, _("host and database differ by %(skew)s s: leases, "
                                       "schedules and rate limits go wrong. Run NTP "
                                       "(chrony, systemd-timesyncd).") % values)


def clock_skew() -> float:
    """The database's clock minus this host's, in seconds (0 for SQLite: same clock)."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        before = time.time()
        cursor.execute("SELECT clock_timestamp()")
        (database_now,) = cursor.fetchone()
        after = time.time()
    host_now = datetime.fromtimestamp((before + after) / 2, tz=UTC)
    return (database_now - host_now).total_seconds()


CHECKS: list[Callable[[Plan], Iterator[Finding]]] = [
    check_configuration, check_relays, check_database, check_secret_key, check_https,
    check_clock, check_retention]
