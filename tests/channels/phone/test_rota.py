"""The daily rota suggestion: base team, surge team and lines from a known demand profile."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from channels.phone.erlang import staffing_required
from channels.phone.rota import (
    IntervalDemand,
    RotaParameters,
    base_team,
    rota_csv,
    rota_suggest,
)
from tests.world import jst

PARAMETERS = RotaParameters(
    aht_seconds=360,
    service_level=0.8,
    target_seconds=20,
    max_occupancy=0.85,
    shrinkage=0.3,
    max_blocking=0.01,
)


def day_of(date: dt.date, calls: list[float]) -> list[IntervalDemand]:
    start = jst(date.year, date.month, date.day, 9)
    return [
        IntervalDemand(starts_at=start + dt.timedelta(minutes=30 * i), calls=c)
        for i, c in enumerate(calls)
    ]


def staff_for(calls: float, parameters: RotaParameters = PARAMETERS) -> int:
    return staffing_required(
        calls=calls,
        interval_seconds=1800,
        aht_seconds=parameters.aht_seconds,
        service_level_target=parameters.service_level,
        target_seconds=parameters.target_seconds,
        max_occupancy=parameters.max_occupancy,
        shrinkage=parameters.shrinkage,
        max_blocking=parameters.max_blocking,
    ).staff


def test_base_team_is_the_nearest_rank_percentile() -> None:
    assert base_team([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], coverage=0.8) == 8
    assert base_team([5] * 14 + [10, 9], coverage=0.8) == 5
    assert base_team([], coverage=0.8) == 0
    with pytest.raises(ValueError):
        base_team([1], coverage=0)


def test_a_mail_out_morning_gives_a_base_team_and_a_surge_for_the_spike() -> None:
    # 9:00-17:00: a spike of 60 calls at 9:00 decaying to the day's 15 calls a half hour.
    calls = [60.0, 40.0, 25.0] + [15.0] * 13
    (rota,) = rota_suggest(demand=day_of(dt.date(2027, 1, 11), calls), parameters=PARAMETERS)
    quiet, peak = staff_for(15), staff_for(60)
    # By hand for the quiet half hour: 15 calls of 6 minutes = 3 Erlangs; 5 agents answer
    # 1 - C(5, 3)·e^(-2·20/360) = 78.9% within 20 s, 6 agents 91.6%; 6 / (1 - 30%) → 9 staff.
    assert (quiet, peak) == (9, 23)
    assert rota.base_team == quiet
    assert rota.surge_team == peak - quiet
    assert rota.peak_staff == peak
    surges = [row.surge for row in rota.intervals]
    assert surges[0] == peak - quiet
    assert surges[1] == staff_for(40) - quiet
    assert surges[3:] == [0] * 13
    assert rota.lines == max(row.staffing.lines for row in rota.intervals)
    assert rota.lines == rota.intervals[0].staffing.lines


def test_hang_ups_lower_the_suggestion() -> None:
    calls = [60.0, 40.0, 25.0] + [15.0] * 13
    demand = day_of(dt.date(2027, 1, 11), calls)
    (patient,) = rota_suggest(demand=demand, parameters=PARAMETERS)
    impatient_parameters = RotaParameters(
        **{**PARAMETERS.__dict__, "patience_seconds": 60.0}  # type: ignore[arg-type]
    )
    (impatient,) = rota_suggest(demand=demand, parameters=impatient_parameters)
    assert impatient.peak_staff < patient.peak_staff
    assert impatient.intervals[0].staffing.abandonment > 0


def test_each_day_gets_its_own_rota_and_the_csv_one_row_per_half_hour() -> None:
    demand = day_of(dt.date(2027, 1, 11), [30.0] * 16) + day_of(dt.date(2027, 1, 12), [5.0] * 16)
    rotas = rota_suggest(demand=demand, parameters=PARAMETERS)
    assert [r.date for r in rotas] == [dt.date(2027, 1, 11), dt.date(2027, 1, 12)]
    assert rotas[0].base_team == staff_for(30) and rotas[0].surge_team == 0
    assert rotas[1].base_team == staff_for(5)
    rows = list(csv.reader(io.StringIO(rota_csv(rotas))))
    assert rows[0] == ["日時", "予測入電", "必要オペレーター", "基本チーム", "増員", "回線"]
    assert len(rows) == 1 + 32
    assert rows[1] == [
        "2027-01-11 09:00",
        "30.0",
        str(staff_for(30)),
        str(staff_for(30)),
        "0",
        str(rotas[0].lines),
    ]
    assert rows[17][0] == "2027-01-12 09:00"
