"""Test-wide set-up. pytest-django reads the settings before this file, so the environment
comes from outside: bin/test exports DJANGO_DEBUG=false and a fresh strong DJANGO_SECRET_KEY."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

# The shared cast of tests (a city, a site, residents, staff) for every test package.
pytest_plugins = ["tests.world"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shift-clock-days",
        type=int,
        default=0,
        metavar="DAYS",
        help=(
            "Run the whole session with the process clock moved DAYS days ahead (time-machine, "
            "ticking). bin/test runs the SQLite pass a second time with 400, so a test that "
            "only passes on today's date fails in CI."
        ),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--shift-clock-days")
    if not days:
        return
    import time_machine

    # Started before collection, so module-level dates see the moved clock too. time-machine
    # patches the clock for every thread of this process (live servers, stand-ins); a test's
    # own time_machine.travel() nests inside it and returns to the moved clock afterwards.
    # Subprocesses (real Celery workers) keep the real clock: those tests run only in the
    # PostgreSQL + Redis pass, which is not shifted.
    moved = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=days)
    traveller = time_machine.travel(moved, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--shift-clock-days")
    if not days:
        return None
    today = dt.datetime.now(tz=ZoneInfo("Asia/Tokyo")).date()
    return f"clock moved {days} days ahead: today is {today.isoformat()} in Tokyo for this run"
