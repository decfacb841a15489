"""Markers for tests that need services: skipped on a bare machine, never where required.

`postgres` tests run only when DATABASE_URL points at PostgreSQL; `redis` tests only when
CELERY_BROKER_URL is set; `browser` tests only when Debian's chromium is at /usr/bin/chromium
(Playwright drives it; it never downloads a browser). The test script runs the suite on SQLite
first (these skip, and the script says so), then on PostgreSQL + Redis with
MADOGUCHI_REQUIRE_SERVICES=1, where a missing service is an error instead of a skip. CI always
runs that second pass, and with CI=true a missing browser is an error in both passes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE_VIEWPORT: ViewportSize = {"width": 360, "height": 740}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_broker = bool(os.environ.get("CELERY_BROKER_URL"))
    required = os.environ.get("MADOGUCHI_REQUIRE_SERVICES") == "1"
    in_ci = os.environ.get("CI") == "true"
    for item in items:
        if item.get_closest_marker("browser") and not CHROMIUM.exists():
            reason = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
            if required or in_ci:
                raise pytest.UsageError(f"{item.nodeid} {reason}, which this run requires")
            item.add_marker(pytest.mark.skip(reason=reason))
            continue
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
def _fresh_celery_backend() -> Iterator[None]:
    # Sending a task (e.g. a notification after a committed booking) caches the Celery app's
    # result backend; a later test that configures a backend for a real worker must get that
    # one, not the one an earlier test happened to create.
    yield
    from config.celery import app

    app._local.__dict__.pop("backend", None)


@pytest.fixture(autouse=True)
def _fresh_rulebooks() -> None:
    # Rule rows created in one test are rolled back with it; never serve them to the next.
    from reservations.selectors import rulebook_cache_clear

    rulebook_cache_clear()


@pytest.fixture(autouse=True)
def _day_lists_read_fresh(settings: Any) -> None:
    # Tests book and list again within a second, often at several explicit now= values; the
    # reuse of day lists is tested on its own (tests/reservations/test_selectors.py).
    from reservations.selectors import day_rows_cache_clear

    settings.BOOKING_DAY_LIST_REUSE_SECONDS = 0
    day_rows_cache_clear()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The default cache (one process's memory in tests) keeps rendered fragments such as the
    # empty sign-in form and API throttle counts; each test starts without another's.
    from django.core.cache import cache

    cache.clear()


# Django's test server listens with a backlog of 10 (WSGIServer.request_queue_size). A burst of
# 50 clients connecting at once (the LINE webhook burst, the browser's parallel asset requests)
# overflows the accept queue: the kernel drops the handshake's last ACK, the client has already
# sent its request, and the connection is reset (TcpExtListenOverflows counts them). Production
# servers listen with gunicorn's 2048; the test server gets the system's own maximum.
LIVE_SERVER_BACKLOG = 1024


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-django's live server, listening with a backlog a burst of clients fits in."""
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread
    from pytest_django.live_server_helper import LiveServer

    class BurstTolerantServer(ThreadedWSGIServer):
        request_queue_size = LIVE_SERVER_BACKLOG

    class BurstTolerantThread(LiveServerThread):
        server_class = BurstTolerantServer

    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    default = server.thread
    server.thread = BurstTolerantThread(
        default.host,
        default.static_handler,
        connections_override=default.connections_override,
        port=default.port,
    )
    server.thread.daemon = True
    server.start()
    yield server
    server.stop()


# What Chromium reported as blocked by the Content-Security-Policy ("Refused to execute inline
# script …") during the current browser test; _no_csp_violations fails the test on any.
CSP_VIOLATIONS: list[str] = []


def _record_csp_violation(message: Any) -> None:
    if "Content Security Policy" in message.text:
        CSP_VIOLATIONS.append(f"{message.location.get('url', '')}: {message.text}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright; one per test session. Every context
    and page it opens reports CSP violations to CSP_VIOLATIONS."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still synchronous, so Django's async guard does not apply.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        new_context, new_page = browser.new_context, browser.new_page

        def watched_context(*args: Any, **kwargs: Any) -> Any:
            context = new_context(*args, **kwargs)
            context.on("console", _record_csp_violation)
            return context

        def watched_page(*args: Any, **kwargs: Any) -> Any:
            page = new_page(*args, **kwargs)
            page.on("console", _record_csp_violation)
            return page

        browser.new_context = watched_context  # type: ignore[method-assign]
        browser.new_page = watched_page  # type: ignore[method-assign]
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """A browser test fails if the page needed anything the Content-Security-Policy blocks."""
    CSP_VIOLATIONS.clear()
    yield
    if request.node.get_closest_marker("browser") is not None and CSP_VIOLATIONS:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(CSP_VIOLATIONS))


@pytest.fixture
def phone_page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at phone width, Japanese first like a resident's."""
    context = chromium.new_context(
        viewport=PHONE_VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _force_login_gives_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """client.force_login skips the sign-in form, so it skips its second step too: the test
    client is signed in as after the password and the code (tests.world.sign_in_verified) for
    administrators, exporters and superusers alike. The second factor's own tests
    (tests/channels/phone/test_second_factor.py) sign in through the real pages instead, and
    SecondFactorMiddleware runs unchanged for every request."""
    from django.test import Client

    from tests.world import sign_in_verified

    force_login = Client.force_login

    def force_login_verified(client: Client, user: Any, backend: str | None = None) -> None:
        sign_in_verified(client, user, force_login=lambda: force_login(client, user, backend))

    monkeypatch.setattr(Client, "force_login", force_login_verified)
