"""Real Celery worker processes for tests (and bench/) that need one."""

from __future__ import annotations

import sys

from django.db import connection


def worker_database_url() -> str:
    """The URL of the database this test runs on. While tests run, NAME is the test database
    (test_<name>), which is the one a worker process must use."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


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
