"""Django settings, all derived from the environment through :mod:`envoi.config`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from envoi import config

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = config.secret_key()
DEBUG = config.env("ENVOI_DEBUG", "0") == "1"
ENVOI_BASE_URL = config.env("ENVOI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ENVOI_SMTP_URL = config.env("ENVOI_SMTP_URL", "smtp://127.0.0.1:2525")
ENVOI_SMPP_URL = config.env("ENVOI_SMPP_URL", "")
ENVOI_SMS_DEFAULT_REGION = config.env("ENVOI_SMS_DEFAULT_REGION", "KR").upper()
ENVOI_SMS_STOP_KEYWORDS = [word.strip() for word in config.env(
    "ENVOI_SMS_STOP_KEYWORDS", config.DEFAULT_STOP_KEYWORDS).split(",") if word.strip()]
ENVOI_BOUNCE_DOMAIN = config.env("ENVOI_BOUNCE_DOMAIN") or (
    urlsplit(ENVOI_BASE_URL).hostname or "localhost"
)
# Envelope sender of proofs: they are not tied to a sending-log row.
ENVOI_PROOF_MAIL_FROM = f"proofs@{ENVOI_BOUNCE_DOMAIN}"
# New marketing deliveries send only to profiles with recorded consent (envoi.consent).
ENVOI_REQUIRE_CONSENT = config.env("ENVOI_REQUIRE_CONSENT", "1") != "0"
# Recipient pages and confirmation mail wear the sender's brand (envoi.consent.pages).
ENVOI_BRAND_NAME = config.env("ENVOI_BRAND_NAME", "Envoi")
ENVOI_BRAND_LOGO_URL = config.env("ENVOI_BRAND_LOGO_URL", "")
ENVOI_BRAND_COLOR = config.env("ENVOI_BRAND_COLOR", "#1d4ed8")
ENVOI_BRAND_FOOTER = config.env("ENVOI_BRAND_FOOTER", "")
# Market rules (envoi.preparation.rules): the sender's postal address and a contact for
# enquiries that advertising must show, the free 080 number Korean advertising SMS offer
# for refusals, and the rule sets new deliveries name ("kr_advertising bulk_sender").
ENVOI_BRAND_ADDRESS = config.env("ENVOI_BRAND_ADDRESS", "")
ENVOI_BRAND_CONTACT = config.env("ENVOI_BRAND_CONTACT", "")
ENVOI_KR_OPT_OUT_NUMBER = config.env("ENVOI_KR_OPT_OUT_NUMBER", "")
ENVOI_DEFAULT_TYPOLOGY = config.env("ENVOI_DEFAULT_TYPOLOGY", "")
# The subscription form (envoi.consent.subscription): the confirmation mail's sender,
# how long its link works, and how fast a person can possibly fill the form in.
ENVOI_CONFIRM_MAIL_FROM = config.env("ENVOI_CONFIRM_MAIL_FROM", "") or (
    f"no-reply@{ENVOI_BOUNCE_DOMAIN}")
ENVOI_CONFIRM_DAYS = int(config.env("ENVOI_CONFIRM_DAYS", "7"))
# Consent notices of Korean advertising (envoi.consent.notices): "auto" sends them once
# kr_advertising is a default rule set or any delivery names it; "1" always, "0" never.
ENVOI_CONSENT_NOTICES = config.env("ENVOI_CONSENT_NOTICES", "auto")
ENVOI_CONSENT_NOTICE_MAIL_FROM = (config.env("ENVOI_CONSENT_NOTICE_MAIL_FROM", "")
                                  or ENVOI_CONFIRM_MAIL_FROM)
# The SMS sender (short code or number) of consent notices to SMS consents; none: they
# wait (with ENVOI_SMPP_URL, the SMSCs they go through).
ENVOI_CONSENT_NOTICE_SMS_FROM = config.env("ENVOI_CONSENT_NOTICE_SMS_FROM", "")
ENVOI_SUBSCRIBE_MIN_SECONDS = float(config.env("ENVOI_SUBSCRIBE_MIN_SECONDS", "3"))
# Posts of the form per client address per hour, and confirmation mails per email
# address per hour (envoi.consent.ratelimit); 0 turns a limit off.
ENVOI_SUBSCRIBE_RATE = int(config.env("ENVOI_SUBSCRIBE_RATE", "20"))
ENVOI_SUBSCRIBE_ADDRESS_RATE = int(config.env("ENVOI_SUBSCRIBE_ADDRESS_RATE", "3"))
ENVOI_LEASE_SECONDS = int(config.env("ENVOI_LEASE_SECONDS", "60"))
ENVOI_BATCH_SIZE = int(config.env("ENVOI_BATCH_SIZE", "200"))
# Messages per second to a recipient domain, across all workers: "gmail.com=50 naver.com=20".
ENVOI_DOMAIN_RATE_LIMITS = config.env("ENVOI_DOMAIN_RATE_LIMITS", "")
# Tracking links (pixel, clicks, mirror page) stop working this many days after sending.
ENVOI_TRACKING_DAYS = int(config.env("ENVOI_TRACKING_DAYS", "400"))
# A click this soon after its message was sent is a security scanner's, not a person's.
ENVOI_MACHINE_CLICK_SECONDS = int(config.env("ENVOI_MACHINE_CLICK_SECONDS", "10"))
ENVOI_KPI_REFRESH_SECONDS = int(config.env("ENVOI_KPI_REFRESH_SECONDS", "3600"))
ENVOI_KPI_REFRESH_DAYS = int(config.env("ENVOI_KPI_REFRESH_DAYS", "30"))
# Retention (docs/OPERATIONS.md, "Retention"): raw tracking events are rolled up, then
# removed; sending-log rows (and exclusion-log rows) of deliveries that ended that long
# ago are anonymised; stored inbound bounce messages and audit entries are removed.
ENVOI_RETENTION_EVENTS_DAYS = int(config.env("ENVOI_RETENTION_EVENTS_DAYS", "180"))
ENVOI_RETENTION_SENDING_MONTHS = int(config.env("ENVOI_RETENTION_SENDING_MONTHS", "14"))
ENVOI_RETENTION_BOUNCES_DAYS = int(config.env("ENVOI_RETENTION_BOUNCES_DAYS", "30"))
ENVOI_RETENTION_AUDIT_DAYS = int(config.env("ENVOI_RETENTION_AUDIT_DAYS", "730"))
# Where `envoi bounces listen` and the embedded shape take bounces (host:port).
ENVOI_BOUNCE_LISTEN = config.env("ENVOI_BOUNCE_LISTEN", "127.0.0.1:2526")
# Sending-domain checks: the DNS resolver asked (host:port; default: the system's), what
# the return-path domain's SPF must authorize (relay addresses or include:domain), and
# the host its MX must name (optional).
ENVOI_DNS_RESOLVER = config.env("ENVOI_DNS_RESOLVER", "")
ENVOI_SPF_RELAY = config.env("ENVOI_SPF_RELAY", "")
ENVOI_BOUNCE_MX = config.env("ENVOI_BOUNCE_MX", "")
# Who may read /metrics without a token: addresses or networks (docs/OPERATIONS.md).
ENVOI_METRICS_ALLOW = config.env("ENVOI_METRICS_ALLOW", "127.0.0.0/8 ::1")

ALLOWED_HOSTS = config.allowed_hosts(ENVOI_BASE_URL)
CSRF_TRUSTED_ORIGINS = [ENVOI_BASE_URL]

# Behind HTTPS (the base URL says so): cookies only over TLS, and browsers told to keep
# to it. Behind a TLS-terminating proxy, ENVOI_PROXY_SSL_HEADER names the header by which
# it says the request came over HTTPS.
HTTPS = ENVOI_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(config.env("ENVOI_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = config.env("ENVOI_HSTS_INCLUDE_SUBDOMAINS", "0") == "1"
SECURE_PROXY_SSL_HEADER = config.proxy_ssl_header(config.env("ENVOI_PROXY_SSL_HEADER"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "envoi.accounts",
    "envoi.audiences",
    "envoi.deliveries",
    "envoi.preparation",
    "envoi.sending",
    "envoi.tracking",
    "envoi.bounces",
    "envoi.reporting",
    "envoi.content",
    "envoi.ops",
    "envoi.consent",
    "envoi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "envoi.web.middleware.ApiErrorsAsJson",
    "envoi.web.middleware.ContentSecurityPolicy",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "envoi.web.middleware.RefuseUnstorableInput",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "envoi.web.middleware.BrowserTimeZone",
]

ROOT_URLCONF = "envoi.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "envoi.asgi.application"

DATABASES = {
    "default": config.database_from_url(
        config.env("ENVOI_DATABASE_URL") or config.default_database_url()
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "web" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
# Dates as each market writes them (see envoi/web/formats).
FORMAT_MODULE_PATH = ["envoi.web.formats"]

STATIC_URL = "static/"
STATIC_ROOT = config.data_dir() / "static"

# The console: session login, and where a signed-out visitor is sent.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:deliveries"
LOGOUT_REDIRECT_URL = "web:login"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ENVOI_BASE_URL.startswith("https://")
LANGUAGE_COOKIE_NAME = "envoi_language"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "envoi": {"handlers": ["console"], "level": "INFO"},
        # Server errors, with their traceback: what the 500 page promises.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# Accounts: the password rules every face applies (console, API, CLI), and sign-in
# throttling (docs/OPERATIONS.md, "Sign-in, passwords and tokens").
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(config.env("ENVOI_PASSWORD_MIN_LENGTH", "10"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["envoi.accounts.backends.ThrottledModelBackend"]
ENVOI_LOGIN_FREE_FAILURES = int(config.env("ENVOI_LOGIN_FREE_FAILURES", "5"))
ENVOI_LOGIN_ADDRESS_FREE_FAILURES = int(config.env("ENVOI_LOGIN_ADDRESS_FREE_FAILURES", "20"))
ENVOI_LOGIN_MAX_WAIT_SECONDS = int(config.env("ENVOI_LOGIN_MAX_WAIT_SECONDS", "900"))
# Behind a reverse proxy, the header it appends the client's address to.
ENVOI_CLIENT_IP_HEADER = config.env("ENVOI_CLIENT_IP_HEADER", "")
