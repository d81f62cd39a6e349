"""Configuration read from the environment, in one place.

Every knob the operator can turn is listed in ``SETTINGS`` with its default and its
meaning; the README's configuration table is generated from the same list, so code and
documentation cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


DEFAULT_STOP_KEYWORDS = "STOP,STOPALL,UNSUBSCRIBE,END,QUIT,CANCEL,해지,수신거부,停止,配信停止"

SETTINGS = [
    Setting("ENVOI_DATABASE_URL", "sqlite:///<ENVOI_DATA_DIR>/envoi.sqlite3",
            "`sqlite:///path` (embedded) or `postgresql://user:pass@host:port/db` (production)."),
    Setting("ENVOI_SMTP_URL", "smtp://127.0.0.1:2525",
            "Relay: `smtp://[user:password@]host:port[?starttls=1&pool=4]`; `smtps://` for TLS. "
            "Several relays, separated by spaces, with `weight=N` and `max_connections=N`."),
    Setting("ENVOI_SMPP_URL", "(none: SMS deliveries wait)",
            "SMSCs for the SMS channel: `smpp://system_id:password@host:port[?window=10&"
            "rate=100&system_type=…&source_ton=…&source_npi=…]`, several separated by "
            "commas or spaces. `window`: outstanding submit_sm per connection; `rate`: "
            "submit_sm per second per connection (0: no limit), held across all workers: "
            "together they send one SMSC at most `rate` × `connections` (× `max_binds` "
            "when set); `connections=N` per worker; `max_binds=N`: sessions bound to the "
            "SMSC across all workers (0: no cap)."),
    Setting("ENVOI_SMS_DEFAULT_REGION", "KR",
            "Region (ISO 3166 code) of phone numbers written without a country code, for "
            "profiles without `attributes.country`."),
    Setting("ENVOI_SMS_STOP_KEYWORDS", DEFAULT_STOP_KEYWORDS,
            "Replies that opt the sender out of SMS (the whole reply, any case), separated "
            "by commas."),
    Setting("ENVOI_SECRET_KEY", "(generated into ENVOI_DATA_DIR on first start)",
            "Signs sessions, unsubscribe and tracking links. Keep it secret and stable."),
    Setting("ENVOI_BASE_URL", "http://127.0.0.1:8000",
            "Public URL of `envoi serve`, used in links inside messages."),
    Setting("ENVOI_DATA_DIR", "./var", "Where the embedded shape keeps its SQLite file and key."),
    Setting("ENVOI_BOUNCE_DOMAIN", "host of ENVOI_BASE_URL",
            "Domain of per-recipient return paths (`b-<row>-<mac>@domain`) and Message-IDs."),
    Setting("ENVOI_DNS_RESOLVER", "(the system's resolver)",
            "`host:port` of the DNS resolver the sending-domain checks ask."),
    Setting("ENVOI_SPF_RELAY", "addresses of the non-loopback relay hosts",
            "What the return-path domain's SPF must authorize: the relay's outbound "
            "addresses and/or `include:domain`, separated by spaces."),
    Setting("ENVOI_BOUNCE_MX", "(any MX)",
            "The host the return-path domain's MX must name: where bounces reach Envoi."),
    Setting("ENVOI_LEASE_SECONDS", "60",
            "How long a worker owns claimed rows before another worker may take them."),
    Setting("ENVOI_BATCH_SIZE", "200", "Rows a worker claims at a time."),
    Setting("ENVOI_DEBUG", "0", "Django debug mode; never in production."),
    Setting("ENVOI_ALLOWED_HOSTS", "host of ENVOI_BASE_URL, localhost, 127.0.0.1, ::1",
            "Host names `envoi serve` answers to, separated by commas or spaces; other "
            "`Host` headers get a 400."),
    Setting("ENVOI_PROXY_SSL_HEADER", "(none)",
            "Behind a proxy that terminates TLS: the header by which it says the request "
            "came over HTTPS, as `X-Forwarded-Proto: https`. Set it only when the proxy "
            "always sets or strips that header."),
    Setting("ENVOI_HSTS_SECONDS", "31536000 when ENVOI_BASE_URL is https, else 0",
            "`Strict-Transport-Security` max-age sent over HTTPS; 0 sends none."),
    Setting("ENVOI_HSTS_INCLUDE_SUBDOMAINS", "0",
            "1 adds `includeSubDomains` to Strict-Transport-Security."),
]

# Loopback names: the embedded shape, a health check on the machine, and local tools.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def data_dir() -> Path:
    """The data directory; a new one is readable by its owner only."""
    path = Path(env("ENVOI_DATA_DIR", "var")).resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` readable and writable by its owner only (mode 0600), or take an
    existing one back to that mode. The file never exists with wider rights, not even
    for a moment."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        with contextlib.suppress(PermissionError):  # another user's file: theirs to set
            path.chmod(0o600)
    return path


def secret_key() -> str:
    """The configured key, or one generated once and kept in the data directory."""
    configured = env("ENVOI_SECRET_KEY")
    if configured:
        return configured
    key_file = data_dir() / "secret_key"
    if not key_file.exists() or not key_file.read_text().strip():
        import secrets

        private_file(key_file).write_text(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def allowed_hosts(base_url: str) -> list[str]:
    """``ENVOI_ALLOWED_HOSTS``, or the base URL's host and the loopback names."""
    configured = env("ENVOI_ALLOWED_HOSTS").replace(",", " ").split()
    if configured:
        return configured
    host = urlsplit(base_url).hostname
    named = [f"[{host}]" if host and ":" in host else host] if host else []
    return list(dict.fromkeys([*named, *LOOPBACK_HOSTS]))


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto: https`` as Django's ``SECURE_PROXY_SSL_HEADER``."""
    if not value.strip():
        return None
    name, colon, expected = value.partition(":")
    if not colon or not name.strip() or not expected.strip():
        raise ValueError(
            f"ENVOI_PROXY_SSL_HEADER: expected 'Header-Name: value', got {value!r}")
    meta_name = "HTTP_" + name.strip().upper().replace("-", "_")
    return meta_name, expected.strip()


def database_from_url(url: str) -> dict:
    """Translate ``ENVOI_DATABASE_URL`` into a Django ``DATABASES`` entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:]
        _private_database(Path(path))
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA cache_size=-64000;"
                ),
            },
            "TEST": {"NAME": path + ".test"},
        }
    if parts.scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "envoi",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 0,
        }
    raise ValueError(f"ENVOI_DATABASE_URL: unsupported scheme {parts.scheme!r}")


def _private_database(path: Path) -> None:
    """The SQLite file holds sessions and tokens: create it mode 0600 before SQLite
    does, which then gives its -wal and -shm files the same mode."""
    if str(path).startswith((":", "file:")) or not path.parent.is_dir():
        return  # in memory, or a URI: nothing on disk to protect here
    for companion in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
        if companion is path or companion.exists():
            private_file(companion)


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'envoi.sqlite3'}"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    starttls: bool
    pool_size: int
    timeout: float
    weight: int = 1
    max_connections: int = 0  # across all workers; 0 = no limit

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def relays_from_url(urls: str) -> list[SmtpConfig]:
    """``ENVOI_SMTP_URL`` may list several relays, separated by spaces."""
    relays = [smtp_from_url(url) for url in urls.split()]
    if not relays:
        raise ValueError("ENVOI_SMTP_URL: no relay given")
    names = [relay.name for relay in relays]
    if len(set(names)) != len(names):
        raise ValueError(f"ENVOI_SMTP_URL: a relay is listed twice: {', '.join(names)}")
    return relays


def smtp_from_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"ENVOI_SMTP_URL: expected smtp:// or smtps://, got {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SmtpConfig(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (465 if parts.scheme == "smtps" else 25),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=parts.scheme == "smtps",
        starttls=query.get("starttls", "0") in ("1", "true", "yes"),
        pool_size=int(query.get("pool", "4")),
        timeout=float(query.get("timeout", "30")),
        weight=max(1, int(query.get("weight", "1"))),
        max_connections=max(0, int(query.get("max_connections", "0"))),
    )


@dataclass(frozen=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10  # outstanding submit_sm per connection
    rate: float = 0.0  # submit_sm per second per connection; 0: no limit
    source_ton: int | None = None  # None: chosen from the sender (number or name)
    source_npi: int | None = None
    connections: int = 1  # per worker
    timeout: float = 10.0  # seconds a submit_sm may wait for its answer
    max_binds: int = 0  # sessions bound to this SMSC across all workers; 0: no cap

    @property
    def shared_rate(self) -> float:
        """submit_sm per second every worker's sessions to this SMSC share (0: none):
        ``rate`` for each connection the SMSC grants (``max_binds``, else
        ``connections``)."""
        return self.rate * (self.max_binds or self.connections)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def smscs_from_url(urls: str) -> list[SmppConfig]:
    """``ENVOI_SMPP_URL`` may list several SMSCs, separated by commas or spaces."""
    smscs = [smpp_from_url(url) for url in urls.replace(",", " ").split()]
    names = [smsc.name for smsc in smscs]
    if len(set(names)) != len(names):
        raise ValueError(f"ENVOI_SMPP_URL: an SMSC is listed twice: {', '.join(names)}")
    return smscs


def smpp_from_url(url: str) -> SmppConfig:
    parts = urlsplit(url)
    if parts.scheme != "smpp":
        raise ValueError(f"ENVOI_SMPP_URL: expected smpp://, got {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        port = parts.port or 2775
        return SmppConfig(
            host=parts.hostname or "127.0.0.1", port=port,
            system_id=unquote(parts.username or ""), password=unquote(parts.password or ""),
            system_type=query.get("system_type", ""),
            window=max(1, int(query.get("window", "10"))),
            rate=max(0.0, float(query.get("rate", "0"))),
            source_ton=int(query["source_ton"]) if "source_ton" in query else None,
            source_npi=int(query["source_npi"]) if "source_npi" in query else None,
            connections=max(1, int(query.get("connections", "1"))),
            timeout=float(query.get("timeout", "10")),
            max_binds=max(0, int(query.get("max_binds", "0"))))
    except ValueError as error:
        raise ValueError(f"ENVOI_SMPP_URL: {url!r}: {error}") from error
