"""Sessions cost what changes: pages that change nothing leave the session unsaved, the idle
clock is written at most once a minute, the hold POST reads no listing, and the session store
follows the cache (shared cache: there; one process's memory: the database)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.channels.web.conftest import Clock, sign_in
from tests.world import World

D = dt.date
ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def _session_writes(queries: list[dict[str, Any]]) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    ]


def test_pages_that_change_nothing_do_not_save_the_session(
    client: Client, world: World, clock: Clock, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    world.slot(D(2026, 11, 10))
    url = sign_in(client, world.resident())
    clock.advance(seconds=30)
    with CaptureQueriesContext(connection) as captured:
        for page in ("/", url, f"{url}book/", f"{url}book/?date=2026-11-10"):
            assert client.get(page).status_code == 200
    assert _session_writes(captured.captured_queries) == []


def test_the_idle_clock_is_written_once_it_has_moved_a_minute(
    client: Client, world: World, clock: Clock, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.WEB_SESSION_IDLE_MINUTES = 20
    url = sign_in(client, world.resident())
    clock.advance(seconds=50)
    with CaptureQueriesContext(connection) as quiet:
        client.get(url)
    clock.advance(seconds=20)  # 70 seconds since the sign-in wrote "seen"
    with CaptureQueriesContext(connection) as moved:
        client.get(url)
    assert _session_writes(quiet.captured_queries) == []
    assert len(_session_writes(moved.captured_queries)) == 1
    # The limit counts from the "seen" written then: 19 minutes later still signed in, and
    # never later than the limit after the last request.
    clock.advance(minutes=19, seconds=30)
    assert client.get(url).status_code == 200
    clock.advance(minutes=20, seconds=1)
    assert client.get(url)["Location"] == "/?notice=timeout"


def test_the_hold_post_reads_no_listing(client: Client, world: World, clock: Clock) -> None:
    slot = world.slot(D(2026, 11, 10))
    for hour in range(11, 16):
        world.slot(D(2026, 11, 11), hour)
    url = sign_in(client, world.resident())
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"{url}book/", {"slot": slot.pk, "key": "web-once"})
    assert response.status_code == 302
    grouped = [q["sql"] for q in captured.captured_queries if "GROUP BY" in q["sql"]]
    assert grouped == []


def _engine(**env: str) -> str:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    keep["DJANGO_DEBUG"] = "true"  # as bin/start; debug is off by default
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", "import config.settings as s; print(s.SESSION_ENGINE)"],
        cwd=ROOT,
        env={**keep, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_sessions_live_in_a_shared_cache_and_otherwise_in_the_database() -> None:
    assert _engine() == "django.contrib.sessions.backends.db"
    assert _engine(CACHE_URL="locmemcache://x") == "django.contrib.sessions.backends.db"
    assert _engine(CACHE_URL="redis://127.0.0.1:6379/1") == "django.contrib.sessions.backends.cache"


def test_the_empty_sign_in_form_is_rendered_once_per_language_and_input_never_cached(
    world: World,
) -> None:
    """The empty form comes from the cache (one copy per language); a form with the
    resident's input and its errors is always rendered afresh."""

    def renders_the_fields(response: Any) -> bool:
        return "web/_signin_fields.html" in [t.name for t in response.templates]

    assert renders_the_fields(Client().get("/"))
    assert not renders_the_fields(Client().get("/"))  # the second time, from the cache
    assert renders_the_fields(Client(HTTP_ACCEPT_LANGUAGE="en").get("/"))
    assert renders_the_fields(Client().post("/", {"ticket_number": "1"}))
    japanese = Client().get("/").content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    assert "接種券番号（10けた）" in japanese
    assert "Vaccination ticket number (10 digits)" in english
    assert "接種券番号（10けた）" not in english
    assert Client().get("/").content.decode().count("接種券番号（10けた）") == japanese.count(
        "接種券番号（10けた）"
    )
    typed = Client().post("/", {"ticket_number": "12345X"}).content.decode()
    assert 'value="12345X"' in typed
    assert 'value="12345X"' not in Client().get("/").content.decode()
