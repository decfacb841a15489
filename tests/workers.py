"""Real Celery worker processes for tests (and bench/) that need one."""

from __future__ import annotations

import os
import secrets
import sys

from django.db import connection


def worker_database_url() -> str:
    """The URL of the database this test runs on. While tests run, NAME is the test database
    (test_<name>), which is the one a worker process must use."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def production_process_env() -> dict[str, str]:
    """The variables a worker or relay started by a test needs to pass the production checks
    (config/checks.py) that every such process runs at start: debug off, a strong key, a cache
    shared between processes (the broker's Redis) and an SMS backend that prints nothing. A
    test that sends SMS sets its own SMS_BACKEND on top."""
    from django.conf import settings

    from config.checks import secret_key_is_weak

    # This run's key (bin/test exports a strong one). A targeted run with DJANGO_SECRET_KEY=x
    # gives its workers a fresh one instead: they sign nothing this process checks.
    key = settings.SECRET_KEY
    if secret_key_is_weak(key):
        key = secrets.token_urlsafe(50)
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": key,
        "CACHE_URL": os.environ["CELERY_BROKER_URL"],
        "SMS_BACKEND": "locmem",
    }


def celery_worker_argv(*, concurrency: int, loglevel: str, name: str = "") -> list[str]:
    """`celery worker` for this project, without gossip, mingle or heartbeat (none is needed
    for one worker, and they slow its start)."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return [*argv, "-n", name] if name else argv


def notify_relay_argv(*, poll: float) -> list[str]:
    """`manage.py notify_relay`, the process that hands committed events to the workers in
    production (NOTIFY_HANDOFF=relay); tests poll more often than the default."""
    from django.conf import settings

    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "notify_relay", f"--poll={poll}"]
