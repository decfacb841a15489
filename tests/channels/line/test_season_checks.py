"""The LINE channel's part of the pre-opening check."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reservations.season_check import Severity, season_check
from tests.world import World

pytestmark = pytest.mark.django_db


def line_findings(world: World, now: dt.datetime) -> dict[str, str]:
    findings = season_check(municipality=world.municipality, now=now)
    return {f.code: f.severity for f in findings if f.code.startswith("line_")}


def test_it_warns_when_line_is_not_set_up(world: World, now: dt.datetime, settings: Any) -> None:
    settings.LINE_CHANNEL_SECRET = ""
    settings.LINE_CHANNEL_ACCESS_TOKEN = ""
    settings.LINE_SIMULATOR = True  # answers staff only: it does not count
    assert line_findings(world, now) == {"line_not_configured": Severity.WARNING}
    settings.LINE_CHANNEL_SECRET = "secret"
    assert line_findings(world, now) == {"line_not_configured": Severity.WARNING}
    settings.LINE_CHANNEL_ACCESS_TOKEN = "token"
    assert line_findings(world, now) == {}
