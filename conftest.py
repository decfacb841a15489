"""Test-wide set-up, loaded before Django settings (pytest-django reads them afterwards)."""

import os

# Tests never need a real secret; production refuses to start without one.
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")

# The shared cast of tests (a city, a site, residents, staff) for every test package.
pytest_plugins = ["tests.world"]
