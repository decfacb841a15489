"""Markers for tests that need services: skipped on a bare machine, never where required.

`postgres` tests run only when DATABASE_URL points at PostgreSQL; `redis` tests only when
CELERY_BROKER_URL is set. The test script runs the suite on SQLite first (these skip, and the
script says so), then on PostgreSQL + Redis with MADOGUCHI_REQUIRE_SERVICES=1, where a missing
service is an error instead of a skip. CI always runs that second pass.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_broker = bool(os.environ.get("CELERY_BROKER_URL"))
    required = os.environ.get("MADOGUCHI_REQUIRE_SERVICES") == "1"
    for item in items:
        missing = []
        if item.get_closest_marker("postgres") and not on_postgres:
            missing.append("PostgreSQL (DATABASE_URL=postgres://...)")
        if item.get_closest_marker("redis") and not has_broker:
            missing.append("Redis (CELERY_BROKER_URL=redis://...)")
        if not missing:
            continue
        reason = "needs " + " and ".join(missing)
        if required:
            raise pytest.UsageError(f"{item.nodeid} {reason}, which this run requires")
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # The production hasher is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rulebooks() -> None:
    # Rule rows created in one test are rolled back with it; never serve them to the next.
    from reservations.selectors import rulebook_cache_clear

    rulebook_cache_clear()
