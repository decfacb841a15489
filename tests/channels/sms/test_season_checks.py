"""The SMS channel's part of the pre-opening check: messages must leave this machine, under the
municipality's own sender label (2021: residents ignored texts from senders they did not know)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reservations.season_check import Severity, season_check
from tests.world import World

pytestmark = pytest.mark.django_db


def sms_findings(world: World, now: dt.datetime) -> dict[str, str]:
    findings = season_check(municipality=world.municipality, now=now)
    return {f.code: f.severity for f in findings if f.code.startswith("sms_")}


def test_it_warns_when_no_sms_leaves_this_machine(
    world: World, now: dt.datetime, settings: Any
) -> None:
    settings.SMS_BACKEND = "console"
    assert sms_findings(world, now)["sms_not_sent"] == Severity.WARNING
    settings.SMS_BACKEND = "http"
    assert "sms_not_sent" not in sms_findings(world, now)


def test_it_warns_when_the_municipality_has_no_sender_label(
    world: World, now: dt.datetime, settings: Any
) -> None:
    settings.SMS_SENDER_NAME = "ワクチン予約"
    findings = season_check(municipality=world.municipality, now=now)
    missing = next(f for f in findings if f.code == "sms_sender_missing")
    assert missing.severity == Severity.WARNING
    assert "「ワクチン予約」" in missing.text()
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    assert "sms_sender_missing" not in sms_findings(world, now)
