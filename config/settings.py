"""Madoguchi settings: one module, driven by environment variables.

Every variable read here is listed in the README's configuration table. Bad values fail loudly at
start-up (ImproperlyConfigured) instead of running with a surprising default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

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


# On by default so a fresh checkout runs with `manage.py` alone; it cannot be left on by
# mistake in production, because debug mode refuses to serve any non-local host (below).
DEBUG = _env_bool("DJANGO_DEBUG", True)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (production)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

_LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=_LOCAL_HOSTS)
if DEBUG and set(ALLOWED_HOSTS) - {*_LOCAL_HOSTS, "testserver"}:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on but DJANGO_ALLOWED_HOSTS names other hosts: "
        "set DJANGO_DEBUG=false (and DJANGO_SECRET_KEY) to serve them."
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Behind a TLS-terminating proxy (production): secure cookies and trust X-Forwarded-Proto.
if _env_bool("DJANGO_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 30

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "reservations",
    "channels.web",
    "channels.line",
    "channels.phone",
    "channels.api",
    "channels.notify",
    "channels.sms",
    "channels.venue",
    "vrs_export",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "ja"
# Shown in each language's own name in the switcher.
LANGUAGES = [("ja", "日本語"), ("en", "English")]
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

# --- The booking core -----------------------------------------------------------------------
HOME_MUNICIPALITY_CODE = env.str("HOME_MUNICIPALITY_CODE", default="452041")


def _check_municipality_code(code: str) -> None:
    # Same algorithm as reservations.identifiers; duplicated in four lines so settings never
    # import application code.
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ImproperlyConfigured(f"HOME_MUNICIPALITY_CODE must be 6 digits, not {code!r}")
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    if str((11 - total % 11) % 10) != code[5]:
        raise ImproperlyConfigured(f"HOME_MUNICIPALITY_CODE {code} has a wrong check digit")


_check_municipality_code(HOME_MUNICIPALITY_CODE)

# How long a chosen seat is held while the resident confirms.
RESERVATION_HOLD_MINUTES = _env_int("RESERVATION_HOLD_MINUTES", 10, minimum=1)
# Failed ticket + birth-date checks, counted atomically in the database across all channels.
CREDENTIALS_TICKET_FAILURE_LIMIT = _env_int("CREDENTIALS_TICKET_FAILURE_LIMIT", 5, minimum=1)
CREDENTIALS_TICKET_WINDOW_MINUTES = _env_int("CREDENTIALS_TICKET_WINDOW_MINUTES", 15, minimum=1)
CREDENTIALS_CLIENT_FAILURE_LIMIT = _env_int("CREDENTIALS_CLIENT_FAILURE_LIMIT", 20, minimum=1)
CREDENTIALS_CLIENT_WINDOW_MINUTES = _env_int("CREDENTIALS_CLIENT_WINDOW_MINUTES", 10, minimum=1)

LOGIN_URL = "admin:login"

# --- Phone call centre (channels/phone) -------------------------------------------------------
# Console sign-in at /phone/login/: failures are counted per username in the database.
PHONE_LOGIN_FAILURE_LIMIT = _env_int("PHONE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
PHONE_LOGIN_WINDOW_MINUTES = _env_int("PHONE_LOGIN_WINDOW_MINUTES", 15, minimum=1)
PHONE_LOGIN_LOCK_MINUTES = _env_int("PHONE_LOGIN_LOCK_MINUTES", 30, minimum=1)


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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
