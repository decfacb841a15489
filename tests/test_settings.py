"""Settings fail loudly on bad environment values instead of running with a surprise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEEP = ("PATH", "HOME", "LANG", "SYSTEMROOT")


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh process with bin/start's environment (debug asked for,
    nothing else) and the given variables on top."""
    return load_settings_from({"DJANGO_DEBUG": "true", **env})


def load_settings_from(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in KEEP}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_starts_with_debug_asked_for_and_nothing_else() -> None:
    # What bin/start sets: the demo needs no other variable.
    assert load_settings_from({"DJANGO_DEBUG": "true"}).returncode == 0


def test_debug_is_off_unless_asked_for() -> None:
    # With no environment at all it is production; the settings load (developer commands run
    # on a bare checkout) with the public key every serving process refuses
    # (tests/test_production_defaults.py).
    result = load_settings_from({})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
        ({"DJANGO_ALLOWED_HOSTS": "yoyaku.example.lg.jp"}, "set DJANGO_DEBUG=false"),
        ({"HOME_MUNICIPALITY_CODE": "452040"}, "wrong check digit"),
        ({"RESERVATION_HOLD_MINUTES": "ten"}, "must be a whole number"),
        ({"RESERVATION_HOLD_MINUTES": "0"}, "must be at least 1"),
        ({"DJANGO_HTTPS": "true", "DJANGO_SSL_REDIRECT": "no?"}, "must be true or false"),
    ],
)
def test_it_refuses_bad_values(env: dict[str, str], complaint: str) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_it_serves_a_public_host_in_production_mode() -> None:
    # Loading the settings only; a weak key is refused when a process starts (config/checks.py,
    # tests/test_production_defaults.py).
    result = load_settings(
        DJANGO_DEBUG="false", DJANGO_SECRET_KEY="k", DJANGO_ALLOWED_HOSTS="yoyaku.example.lg.jp"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "value",
    ["Miyakonojo.example.jp=452025", "https://x.example.jp=452025", "x.example.jp", "a.jp=452026"],
)
def test_a_malformed_municipality_host_stops_the_start(value: str) -> None:
    loaded = load_settings(MUNICIPALITY_WEB_HOSTS=value)
    assert loaded.returncode != 0
    assert "MUNICIPALITY_WEB_HOSTS" in loaded.stderr


def test_municipality_hosts_join_the_allowed_hosts() -> None:
    clean = {k: v for k, v in os.environ.items() if k in KEEP}
    shown = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-c",
            "from config import settings as s; print(sorted(s.MUNICIPALITY_WEB_HOSTS.items()),"
            " 'a.example.jp' in s.ALLOWED_HOSTS)",
        ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "x" * 60,
            "MUNICIPALITY_WEB_HOSTS": "a.example.jp=452025, b.example.jp=452041",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout.strip() == ("[('a.example.jp', '452025'), ('b.example.jp', '452041')] True")
