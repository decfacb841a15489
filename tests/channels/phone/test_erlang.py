"""Erlang C and Erlang B against published worked examples and tables."""

from __future__ import annotations

import pytest

from channels.phone.erlang import (
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    lines_required,
    service_level,
    staffing_required,
)


def test_it_matches_the_call_centre_helper_worked_example() -> None:
    # Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example":
    # 100 calls per 30 minutes, AHT 180 s → A = 10 Erlangs. With N = 11 agents the chance a
    # call waits is 68.21% and 39.0% are answered within 20 s; 14 agents are the fewest to
    # reach 80/20 (88.8%), occupancy 71.4%; with 30% shrinkage that is 20 rostered staff.
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(11, 10.0, target_seconds=20, aht_seconds=180) == pytest.approx(
        0.390, abs=5e-4
    )
    result = staffing_required(
        calls=100,
        interval_seconds=1800,
        aht_seconds=180,
        service_level_target=0.80,
        target_seconds=20,
        max_occupancy=0.85,
        shrinkage=0.30,
        max_blocking=0.01,
    )
    assert result.traffic == pytest.approx(10.0)
    assert result.agents == 14
    assert result.service_level == pytest.approx(0.888, abs=5e-4)
    assert result.occupancy == pytest.approx(0.714, abs=5e-4)
    assert result.staff == 20


def test_it_matches_the_classic_360_calls_example() -> None:
    # The classic Erlang-C worked example (mitan.co.uk "The Erlang-C formula", reproduced in
    # many WFM texts): 360 calls per half hour, 4-minute calls, 55 agents, 15-second target.
    # A = 48 Erlangs, occupancy 87.3%, probability of waiting 24.0% (0.2387), ASA 8.2 s,
    # service level 84.6%.
    traffic = 360 * 240 / 1800
    assert traffic == 48
    assert erlang_c(55, traffic) == pytest.approx(0.2387, abs=5e-5)
    assert average_speed_of_answer(55, traffic, aht_seconds=240) == pytest.approx(8.18, abs=0.01)
    assert service_level(55, traffic, target_seconds=15, aht_seconds=240) == pytest.approx(
        0.846, abs=5e-4
    )


@pytest.mark.parametrize(
    ("lines", "traffic", "blocking"),
    [
        # Standard Erlang B tables (e.g. ITU-T E.521 / any teletraffic handbook), 1% grade of
        # service: 5 lines carry 1.36 E, 10 lines 4.46 E, 20 lines 12.03 E.
        (5, 1.361, 0.01),
        (10, 4.461, 0.01),
        (20, 12.031, 0.01),
        # And B(10 lines, 5 E) = 1.84%.
        (10, 5.0, 0.01838),
    ],
)
def test_it_matches_erlang_b_tables(lines: int, traffic: float, blocking: float) -> None:
    assert erlang_b(lines, traffic) == pytest.approx(blocking, rel=2e-3)


def test_lines_are_the_fewest_meeting_the_blocking_target() -> None:
    assert lines_required(4.461, max_blocking=0.01) == 10
    assert lines_required(4.47, max_blocking=0.01) == 11
    assert lines_required(0.0, max_blocking=0.01) == 0


def test_overload_means_everyone_waits() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(9, 10.0, target_seconds=20, aht_seconds=180) == 0.0


def test_it_stays_exact_for_large_centres() -> None:
    # Factorials of 500 overflow floats; the recurrence does not.
    assert 0.0 < erlang_c(500, 480.0) < 1.0


def test_no_calls_need_no_one() -> None:
    result = staffing_required(
        calls=0,
        interval_seconds=1800,
        aht_seconds=900,
        service_level_target=0.8,
        target_seconds=20,
        max_occupancy=0.85,
        shrinkage=0.3,
        max_blocking=0.01,
    )
    assert (result.agents, result.staff, result.lines) == (0, 0, 0)


def test_occupancy_cap_can_demand_more_than_the_service_level() -> None:
    # 10 operators at 15-minute calls: high volume reaches 80/20 at high occupancy; a 70% cap
    # forces more operators than the service level alone would.
    common = {
        "calls": 200,
        "interval_seconds": 1800,
        "aht_seconds": 900,
        "service_level_target": 0.8,
        "target_seconds": 20,
        "shrinkage": 0.0,
        "max_blocking": 0.01,
    }
    loose = staffing_required(max_occupancy=1.0, **common)  # type: ignore[arg-type]
    capped = staffing_required(max_occupancy=0.7, **common)  # type: ignore[arg-type]
    assert capped.agents > loose.agents
    assert capped.occupancy <= 0.7
