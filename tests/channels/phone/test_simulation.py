"""The rehearsal of opening day (SimPy) against queueing theory where its assumptions hold, and
on the behaviours the formulas cannot show: selling out, busy tones, redials, determinism."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from channels.phone.erlang import average_speed_of_answer, erlang_a, erlang_b, erlang_c
from channels.phone.models import SeasonPlan
from channels.phone.rehearsal import opening_day
from channels.phone.roles import ensure_phone_permissions
from channels.phone.simulation import (
    CentreSetup,
    OpeningDemand,
    RehearsalParameters,
    percentile,
    rehearse,
)
from reservations import roles
from reservations.models import CohortOpening, StaffAssignment
from tests.channels.phone.conftest import staff_user
from tests.channels.phone.test_planning import residents
from tests.world import World, jst

OPENS_AT = jst(2027, 1, 11, 9)
AHT = 180.0


def steady(traffic: float, *, hours: int, web: float = 0.0) -> OpeningDemand:
    """Poisson callers at `traffic` Erlangs (AHT 3 minutes), constant for `hours` hours."""
    per_interval = traffic / AHT * 1800
    return OpeningDemand(
        opens_at=OPENS_AT,
        phone_callers=[per_interval] * (2 * hours),
        web_residents=[web] * (2 * hours),
    )


def no_redials(*, patience: float | None = None, seed: int = 0) -> RehearsalParameters:
    return RehearsalParameters(
        seats=10**9,
        aht_seconds=AHT,
        patience_seconds=patience,
        redial_probability=0.0,
        redial_delay_seconds=60,
        seed=seed,
    )


def test_it_reproduces_erlang_c_when_its_assumptions_hold() -> None:
    """Poisson arrivals, exponential talk, nobody hangs up, no redials, lines to spare:
    7.5 Erlangs on 10 operators for 800 hours (about 120,000 calls). Erlang C gives a mean wait
    of 22.1 s and 30.7% waiting. Tolerance: mean wait within 10%, the share waiting within 5%,
    occupancy within 2%. (Eight seeds gave mean-wait ratios of 0.95-1.09 and waiting-share
    ratios of 0.96-1.02: the wait's variance at 75% occupancy is what needs the long run.)"""
    result = rehearse(
        demand=steady(7.5, hours=800), setup=CentreSetup(10, 10**6), parameters=no_redials()
    )
    assert result.answered > 100_000
    assert result.busy == result.abandoned == 0
    asa = average_speed_of_answer(10, 7.5, aht_seconds=AHT)
    assert result.mean_wait_seconds == pytest.approx(asa, rel=0.10)
    waited = sum(1 for w in result.waits if w > 0) / len(result.waits)
    assert waited == pytest.approx(erlang_c(10, 7.5), rel=0.05)
    assert result.occupancy == pytest.approx(0.75, rel=0.02)


def test_hang_ups_match_erlang_a() -> None:
    """Patience 2 minutes on average, 10 Erlangs on 10 operators (Erlang C has no answer
    here), 300 hours: the share hanging up within 10% of Erlang A's, waiting within 5%."""
    result = rehearse(
        demand=steady(10.0, hours=300),
        setup=CentreSetup(10, 10**6),
        parameters=no_redials(patience=120),
    )
    theory = erlang_a(10, 10.0, aht_seconds=AHT, patience_seconds=120, target_seconds=20)
    queued = result.attempts - result.busy
    assert result.abandoned / queued == pytest.approx(theory.abandonment, rel=0.10)
    waited = (sum(1 for w in result.waits if w > 0) + result.abandoned) / queued
    assert waited == pytest.approx(theory.wait_probability, rel=0.05)


def test_busy_tones_match_erlang_b_when_operators_outnumber_lines() -> None:
    """With more operators than lines nobody queues, so a line is held for the talk alone and
    the share of busy tones is Erlang B's blocking (4 Erlangs on 5 lines: 19.9%)."""
    result = rehearse(
        demand=steady(4.0, hours=300), setup=CentreSetup(8, 5), parameters=no_redials()
    )
    assert result.busy_share == pytest.approx(erlang_b(5, 4.0), rel=0.05)
    assert result.callers_gave_up == result.busy


def test_redials_multiply_attempts_when_the_lines_are_short() -> None:
    """Tamba 2021: 5 lines and 5 operators. 20 Erlangs of callers (100 a half hour, 6-minute
    calls) who redial after a busy tone: attempts outgrow callers, unlike with 35 operators."""
    demand = OpeningDemand(opens_at=OPENS_AT, phone_callers=[100.0] * 4, web_residents=[])
    parameters = RehearsalParameters(
        seats=10**6,
        aht_seconds=360,
        patience_seconds=180,
        redial_probability=0.9,
        redial_delay_seconds=60,
        seed=3,
    )
    short = rehearse(demand=demand, setup=CentreSetup(5, 5), parameters=parameters)
    ample = rehearse(demand=demand, setup=CentreSetup(35, 45), parameters=parameters)
    assert short.busy_share > 0.8
    assert short.attempts_per_caller > 4
    assert ample.busy_share < 0.01
    assert ample.attempts_per_caller < 1.1
    assert ample.callers_answered_share > 0.99 > 0.3 > short.callers_answered_share


def test_the_web_sells_out_at_the_cores_capacity() -> None:
    """3,000 residents in the first half hour for 1,000 seats, the core booking 2 a second:
    the last seat goes after about 500 s (plus the wait for the first arrivals), and the
    phone's 100 reserved seats stay for the phone."""
    demand = OpeningDemand(
        opens_at=OPENS_AT, phone_callers=[20.0, 20.0], web_residents=[3000.0, 0.0]
    )
    parameters = RehearsalParameters(
        seats=1000,
        phone_reserved_seats=100,
        aht_seconds=300,
        patience_seconds=None,
        redial_probability=0.0,
        redial_delay_seconds=60,
        bookings_per_second=2.0,
        seed=1,
    )
    result = rehearse(demand=demand, setup=CentreSetup(10, 20), parameters=parameters)
    assert result.web_booked == 900
    assert result.public_sold_out_after is not None
    assert 450 <= result.public_sold_out_after <= 550
    assert result.web_found_full == result.web_residents - 900
    assert result.phone_booked == result.answered  # the reserve outlasts the phone's 40 callers
    assert result.sold_out_after is None
    assert result.intervals[0].seats_left == 1000 - 900 - result.intervals[0].phone_booked


def test_the_same_seed_gives_the_same_run_and_both_choices_face_the_same_callers() -> None:
    demand = OpeningDemand(opens_at=OPENS_AT, phone_callers=[200.0, 100.0], web_residents=[])
    parameters = RehearsalParameters(
        seats=10**6,
        aht_seconds=360,
        patience_seconds=120,
        redial_probability=0.8,
        redial_delay_seconds=90,
        seed=7,
    )
    first = rehearse(demand=demand, setup=CentreSetup(5, 10), parameters=parameters)
    again = rehearse(demand=demand, setup=CentreSetup(5, 10), parameters=parameters)
    other = rehearse(demand=demand, setup=CentreSetup(10, 20), parameters=parameters)
    assert (first.attempts, first.waits, first.occupancy) == (
        again.attempts,
        again.waits,
        again.occupancy,
    )
    assert first.callers == other.callers
    assert first.busy_share > other.busy_share


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([3.0], 0.99) == 3.0


def test_nobody_dials_after_closing() -> None:
    demand = OpeningDemand(opens_at=OPENS_AT, phone_callers=[100.0], web_residents=[])
    parameters = RehearsalParameters(
        seats=10**6,
        aht_seconds=600,
        patience_seconds=60,
        redial_probability=1.0,
        redial_delay_seconds=300,
        seed=2,
    )
    result = rehearse(demand=demand, setup=CentreSetup(2, 3), parameters=parameters)
    assert result.callers == result.answered + result.callers_gave_up
    assert result.intervals[0].starts_at == OPENS_AT
    assert result.open_seconds == dt.timedelta(minutes=30).total_seconds()


# --- The command, on a season plan ------------------------------------------------------------

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def opening_world(world: World) -> World:
    """2,000 ticket holders aged 75+ whose booking opens MONDAY 09:00; 300 seats (30 kept for
    the phone) on a day whose window is open then; the plan's defaults (10 lines, 5 to 10
    operators, 6-minute calls, 3 minutes' patience, 95% redial)."""
    residents(world, [dt.date(1945, 5, 1)] * 2000)
    SeasonPlan.objects.create(
        municipality=world.municipality,
        name="令和8年度 秋冬",
        starts_on=dt.date(2026, 10, 1),
        ends_on=dt.date(2027, 3, 31),
    )
    CohortOpening.objects.create(
        municipality=world.municipality,
        born_to=dt.date(1951, 12, 31),
        opens_at=jst(2026, 12, 7, 9, 0),
    )
    for hour in range(9, 15):
        world.slot(dt.date(2026, 12, 20), hour, capacity=50, reserved=5)
    return world


def run(*arguments: str) -> str:
    out = io.StringIO()
    call_command("rehearse_opening", *arguments, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_command_compares_the_plan_with_the_rota_side_by_side(opening_world: World) -> None:
    output = run("--municipality", "452041", "--date", MONDAY.isoformat())
    lines = output.splitlines()
    assert "2026-12-07" in lines[0] and "枠 300" in lines[0]
    table = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert table["オペレーター（同時に電話に出る人数）"][0] == "10"  # the plan's surge ceiling
    assert table["回線"][0] == "10"
    day = opening_day(municipality=opening_world.municipality, date=MONDAY)
    suggested = day.suggested_setup()
    assert table["オペレーター（同時に電話に出る人数）"][1] == str(suggested.operators)
    assert suggested.operators > 10
    # The same residents face both choices; more staff, fewer busy tones.
    assert table["発信者（人）"][0] == table["発信者（人）"][1]
    busy = [float(v.rstrip("%")) for v in table["話中音だった発信の割合"]]
    assert busy[0] > busy[1]
    assert table["Web用の枠が埋まるまで"][0] != "満席にならず"
    # It is the simulation's own result, printed.
    result = rehearse(
        demand=day.demand, setup=CentreSetup(10, 10), parameters=day.parameters(seed=0)
    )
    assert table["発信回数（掛け直しを含む）"][0] == str(result.attempts)


@pytest.mark.django_db
def test_the_command_takes_two_choices_and_the_same_seed_gives_the_same_output(
    opening_world: World,
) -> None:
    arguments = ["--municipality", "452041", "--date", "2026-12-07"]
    chosen = run(*arguments, "--operators", "3", "--lines", "3", "--compare", "20:30")
    table = {line.split()[0]: line.split()[1:] for line in chosen.splitlines()[2:]}
    assert table["オペレーター（同時に電話に出る人数）"] == ["3", "20"]
    assert table["回線"] == ["3", "30"]
    assert chosen == run(*arguments, "--operators", "3", "--lines", "3", "--compare", "20:30")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--municipality", "452041"], "--date"),
        (["--municipality", "999999", "--date", "2026-12-07"], "自治体"),
        (["--municipality", "452041", "--date", "2026-12-32"], "日付"),
        (["--municipality", "452041", "--date", "2026-09-01"], "計画"),
        (["--municipality", "452041", "--date", "2026-12-06"], "休業日"),  # a Sunday
        (["--municipality", "452041", "--date", "2026-12-07", "--compare", "ten"], "回線数"),
        (["--municipality", "452041", "--date", "2026-12-07", "--operators", "0"], "整数"),
    ],
)
def test_the_command_refuses_bad_arguments_in_japanese(
    opening_world: World, arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(*arguments)


# --- The pages --------------------------------------------------------------------------------


@pytest.fixture
def manager_client(opening_world: World, client: Client) -> Client:
    ensure_phone_permissions()
    user = staff_user("manager", roles.CALL_MANAGERS)
    StaffAssignment.objects.create(user=user, municipality=opening_world.municipality)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_rehearsal_page_shows_both_choices_and_svg_charts(manager_client: Client) -> None:
    response = manager_client.get(
        "/phone/rehearsal/", {"date": "2026-12-07", "operators_b": "20", "lines_b": "30"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<svg") == 5
    assert "<script" not in page.split("<main", 1)[-1]
    rows = dict(response.context["rows"])
    assert rows["オペレーター（同時に電話に出る人数）"] == ["10", "20"]
    assert rows["回線"] == ["10", "30"]


@pytest.mark.django_db
def test_the_rehearsal_page_explains_a_missing_plan_in_the_users_language(
    manager_client: Client,
) -> None:
    response = manager_client.get("/phone/rehearsal/", {"date": "2026-09-01"})
    assert response.status_code == 200
    assert "シーズン計画がありません" in response.content.decode()
    response = manager_client.get(
        "/phone/rehearsal/", {"date": "2026-09-01"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "season plan" in response.content.decode()


@pytest.mark.django_db
def test_the_rota_csv_has_a_base_and_a_surge_team(manager_client: Client) -> None:
    response = manager_client.get(
        "/phone/rota.csv", {"date_from": "2026-12-07", "date_to": "2026-12-08"}
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["日時", "予測入電", "必要オペレーター", "基本チーム", "増員", "回線"]
    assert len(rows) == 1 + 2 * 16
    monday = rows[1:17]
    needed = [int(r[2]) for r in monday]
    base = int(monday[0][3])
    assert [int(r[4]) for r in monday] == [max(0, n - base) for n in needed]
    assert int(monday[0][4]) > 0  # the 9:00 spike needs the surge team
    refused = manager_client.get(
        "/phone/rota.csv", {"date_from": "2026-12-08", "date_to": "2026-12-07"}
    )
    assert refused.status_code == 400
    assert "開始日以降" in refused.content.decode()


@pytest.mark.django_db
def test_the_planning_pages_need_the_forecast_permission(
    opening_world: World, client: Client
) -> None:
    client.force_login(opening_world.operator)
    assert client.get("/phone/rehearsal/").status_code == 403
    assert client.get("/phone/rota.csv").status_code == 403
