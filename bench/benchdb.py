"""The throwaway PostgreSQL database every benchmark runs in, and Django pointed at it.

Shared by the scripts in bench/ (run as `python bench/<name>.py`, so this folder is on
sys.path). A bench database must be on this machine and have 'bench' in its name: it is
dropped and created again without asking.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent


# One strong key per bench run: with debug off, every process refuses a weak one at start
# (config/checks.py).
SECRET_KEY = secrets.token_urlsafe(50)


def bench_env(database_url: str) -> dict[str, str]:
    """Settings for a Django process of the bench: its database, quiet logs, no debug."""
    return {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
    }


def passes_production_checks(env: dict[str, str]) -> dict[str, str]:
    """env, completed for a process that runs the production checks at start (manage.py,
    gunicorn, Celery; config/checks.py): an SMS backend that prints nothing and a cache the
    processes share (a file cache unless the bench chose one). In-process benches need none
    of it (nothing runs the checks there) and keep measuring with the default cache."""
    done = dict(env)
    if done.get("SMS_BACKEND", "console") in ("console", "file"):
        done["SMS_BACKEND"] = "locmem"
    if done.get("CACHE_URL", "locmemcache:").startswith(("locmemcache:", "dummycache:")):
        done["CACHE_URL"] = f"filecache://{Path(tempfile.gettempdir()) / 'madoguchi-bench-cache'}"
    return done


def django_setup(database_url: str) -> None:
    os.environ.update(bench_env(database_url))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def admin_url(database_url: str) -> tuple[str, str]:
    """The URL of the maintenance database on the same server, and the bench database name."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("--database-url must be a postgres:// URL")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("refusing a non-local database server (127.0.0.1 only)")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the database name must contain 'bench'")
    return urlunsplit(parts._replace(path="/postgres")), name


def database_recreate(database_url: str) -> None:
    admin, name = admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    admin, name = admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(database_url: str, *args: str) -> None:
    """Run a management command against the bench database, output discarded."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=passes_production_checks({**os.environ, **bench_env(database_url)}),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def residents_with_tickets(
    municipality: Any,
    count: int,
    *,
    name: str,
    name_kana: str,
    born_from: dt.date,
    phone: Callable[[int], str] | None = None,
    sms_consent: bool = True,
) -> list[Any]:
    """`count` residents of the municipality (birth dates spread over a year from `born_from`),
    each with an issued ticket numbered 0000000001 upwards; returns the tickets. Django must be
    set up (django_setup) before calling."""
    from reservations.models import Resident, Ticket

    people = Resident.objects.bulk_create(
        (
            Resident(
                municipality=municipality,
                name=f"{name}{i}",
                name_kana=name_kana,
                birth_date=born_from + dt.timedelta(days=i % 365),
                phone=phone(i) if phone is not None else "",
                sms_consent=sms_consent,
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    return list(
        Ticket.objects.bulk_create(
            (
                Ticket(municipality=municipality, number=f"{i + 1:010d}", resident=person)
                for i, person in enumerate(people)
            ),
            batch_size=5000,
        )
    )
