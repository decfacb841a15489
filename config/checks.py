"""Refuse to run production (debug off) with settings that are only safe on a developer's machine.

These are Django system checks at Error level, not exceptions in config/settings.py, because
the test suite runs with debug off on purpose (production's code paths) but with one process's
memory for the cache and the `locmem` SMS backend; a check in the settings module would need a
"testing" switch to let it through, and such a switch could be left on in production. Instead:

- the processes that serve residents and staff call `refuse_unsafe_production_settings()` at
  start: config/wsgi.py (gunicorn), the Celery worker and beat (config/celery.py) and
  `manage.py notify_relay`;
- `manage.py check --deploy` reports them with Django's own deployment checks. They are
  deployment checks, so developer commands (makemigrations, shell, the season commands) still
  run on a bare checkout, where settings fall back to the public development key;
- pytest never runs system checks, so the suite runs; tests call the checks directly.

The embedded default (`bin/start`) asks for debug, and none of this applies to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from config.cache_kinds import PROCESS_LOCAL_CACHE_BACKENDS

TAG = "madoguchi_production"

# The key config/settings.py falls back to with debug on, and the prefix of the keys
# `django-admin startproject` writes: both are public, so they sign nothing.
KNOWN_DEVELOPMENT_KEYS = frozenset({"insecure-development-key-do-not-use-in-production"})
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5

# Both write every message (phone number, 予約番号, name) to stdout or to files on the web
# server's disk, and send nothing.
_LOCAL_SMS_BACKENDS = frozenset(
    {
        "console",
        "file",
        "channels.sms.backends.local.ConsoleBackend",
        "channels.sms.backends.local.FileBackend",
    }
)


def secret_key_is_weak(key: str) -> bool:
    """Django's own measure (security.W009), plus the keys that ship in public code."""
    return (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key in KNOWN_DEVELOPMENT_KEYS
        or key.startswith("django-insecure-")
    )


@checks.register(TAG, checks.Tags.security, deploy=True)
def check_production_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    errors: list[checks.CheckMessage] = []
    if secret_key_is_weak(settings.SECRET_KEY):
        errors.append(
            checks.Error(
                "DJANGO_SECRET_KEY is weak or a published development key.",
                hint=(
                    f"Use at least {SECRET_KEY_MIN_LENGTH} random characters, e.g. "
                    "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
                ),
                id="madoguchi.E001",
            )
        )
    if settings.SMS_BACKEND in _LOCAL_SMS_BACKENDS:
        errors.append(
            checks.Error(
                f"SMS_BACKEND={settings.SMS_BACKEND} writes residents' phone numbers and "
                "予約番号 to the console or to files and sends nothing.",
                hint="Set SMS_BACKEND=http or twilio and the provider's variables (README).",
                id="madoguchi.E002",
            )
        )
    # One process's memory (or none): each gunicorn worker would keep its own API throttle
    # counters, waiting-room queue and permission cache, so every limit multiplies by the
    # number of processes.
    if settings.CACHES["default"]["BACKEND"] in PROCESS_LOCAL_CACHE_BACKENDS:
        errors.append(
            checks.Error(
                "The default cache is one process's memory: the API rate limits, the waiting "
                "room and permission caches would not be shared between processes.",
                hint="Set CACHE_URL to a cache every process shares, e.g. redis://redis:6379/1.",
                id="madoguchi.E003",
            )
        )
    return errors


def refuse_unsafe_production_settings() -> None:
    """For the processes nothing runs checks in (gunicorn, Celery): stop at start with the
    same messages `manage.py check` gives."""
    errors = [
        message
        for message in checks.run_checks(tags=[TAG], include_deployment_checks=True)
        if message.is_serious()
    ]
    if errors:
        raise ImproperlyConfigured(
            "Refusing to start with unsafe production settings:\n"
            + "\n".join(str(error) for error in errors)  # each with its HINT
        )
