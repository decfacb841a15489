"""The call centre's part of the pre-opening check (channels/phone/season_checks.py): the 2021
phone mistakes. Phone seats and lines sized from population alone (Tamba: 5 lines for 13,000
people; Mishima: 10 lines, 100,000 calls in two days), and a booking opening before the
tickets had arrived."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.phone.models import TicketMailout
from reservations.models import CohortOpening
from reservations.season_check import Finding, Severity, season_check
from tests.channels.phone.test_planning import plan, residents
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db

# A Monday a week after `now` (2026-11-02 09:00), 9:00.
OPENS_AT = jst(2026, 11, 9, 9, 0)


def opening(
    world: World, *, born_from: dt.date | None = None, born_to: dt.date | None
) -> CohortOpening:
    return CohortOpening.objects.create(
        municipality=world.municipality, born_from=born_from, born_to=born_to, opens_at=OPENS_AT
    )


def found(world: World, now: dt.datetime, door: CohortOpening, code: str) -> Finding | None:
    findings = season_check(municipality=world.municipality, now=now, opening=door)
    return next((f for f in findings if f.code == code), None)


def test_a_phone_reserve_sized_from_population_falls_short_of_the_elderly_phone_share(
    world: World, now: dt.datetime
) -> None:
    """10% of seats for the phone (a population rule of thumb) is half the share expected to
    phone among people under 65, who mostly book online (a warning), and under a fifth of it
    for those 75 and over, over half of whom phone (an error once the city's own season plan
    gives the shares; with only the defaults, a warning that holds nothing shut)."""
    residents(world, [D(1940, 5, 5)] * 20 + [D(1985, 5, 5)] * 20)
    old = opening(world, born_to=D(1946, 12, 31))
    young = opening(world, born_from=D(1980, 1, 1), born_to=D(1989, 12, 31))
    world.slot(D(2026, 11, 20), capacity=100, reserved=10)

    unplanned = found(world, now, old, "phone_reserve_below_share")
    assert unplanned is not None and unplanned.severity == Severity.WARNING
    plan(world)
    short = found(world, now, old, "phone_reserve_below_share")
    assert short is not None and short.severity == Severity.ERROR
    assert (short.params["reserve_percent"], short.params["share_percent"]) == ("10", "56")
    assert "56%" in short.text()
    young_short = found(world, now, young, "phone_reserve_below_share")
    assert young_short is not None and young_short.severity == Severity.WARNING

    world.slot(D(2026, 11, 20), 11, capacity=100, reserved=60)  # 70 of 200 seats: 35%
    closer = found(world, now, old, "phone_reserve_below_share")
    assert closer is not None and closer.severity == Severity.WARNING
    world.slot(D(2026, 11, 20), 12, capacity=100, reserved=100)  # 170 of 300: 57%
    assert found(world, now, old, "phone_reserve_below_share") is None
    assert found(world, now, old, "phone_reserve_summary") is not None


def test_lines_planned_from_population_fall_short_of_the_opening_day_peak(
    world: World, now: dt.datetime
) -> None:
    """Tamba's 5 lines against what the plan forecasts for a 75+ cohort's opening at 9:00."""
    residents(world, [D(1940, 5, 5)] * 3000)
    door = opening(world, born_to=D(1946, 12, 31))
    world.slot(D(2026, 11, 20), capacity=100, reserved=60)
    season = plan(world, lines_planned=5, operators_base=5, operators_surge=5)

    lines = found(world, now, door, "phone_lines_below_forecast")
    assert lines is not None and lines.severity == Severity.ERROR
    assert lines.params["planned"] == 5 and lines.params["needed"] > 10
    assert lines.params["time"] == "09:00"
    operators = found(world, now, door, "phone_operators_below_forecast")
    assert operators is not None and operators.params["needed"] > 5

    season.lines_planned = lines.params["needed"]
    season.operators_base = season.operators_surge = operators.params["needed"]
    season.save()
    assert found(world, now, door, "phone_lines_below_forecast") is None
    assert found(world, now, door, "phone_operators_below_forecast") is None


def test_an_opening_without_a_season_plan_is_flagged(world: World, now: dt.datetime) -> None:
    door = opening(world, born_to=D(1946, 12, 31))
    missing = found(world, now, door, "phone_plan_missing")
    assert missing is not None and missing.severity == Severity.WARNING


def test_an_opening_before_the_tickets_arrive_is_an_error(world: World, now: dt.datetime) -> None:
    """The band's tickets are posted on Tuesday the 10th and arrive two days later: opening on
    Monday the 9th lets nobody book and fills the phones."""
    residents(world, [D(1940, 5, 5)] * 5)
    door = opening(world, born_to=D(1946, 12, 31))
    season = plan(world, delivery_days=2)
    batch = TicketMailout.objects.create(
        plan=season, mailed_on=D(2026, 11, 10), tickets=5, age_from=75
    )
    early = found(world, now, door, "opening_before_mailout")
    assert early is not None and early.severity == Severity.ERROR
    assert early.params["arrives"] == "2026-11-12"

    batch.mailed_on = D(2026, 11, 2)  # arrives on the 4th
    batch.save()
    assert found(world, now, door, "opening_before_mailout") is None
    # A second batch for the band arriving after the opening: some wait for their letter.
    TicketMailout.objects.create(plan=season, mailed_on=D(2026, 11, 9), tickets=3, age_from=80)
    late = found(world, now, door, "opening_before_some_tickets")
    assert late is not None and late.params["tickets"] == 3


def test_an_opening_with_no_mailout_for_its_band_is_flagged(world: World, now: dt.datetime) -> None:
    door = opening(world, born_to=D(1946, 12, 31))
    season = plan(world)
    TicketMailout.objects.create(
        plan=season, mailed_on=D(2026, 10, 20), tickets=100, age_from=12, age_to=64
    )
    assert found(world, now, door, "opening_without_mailout") is not None
