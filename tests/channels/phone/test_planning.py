"""The call forecast from the season plan (channels/phone/planning.py): callers before any call
exists, the 9:00 spike, redials when staff fall short, learning from the call log, the CSV
command, and a Nichinan-sized season."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import statistics
from collections import defaultdict
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from channels.phone.erlang import erlang_b
from channels.phone.models import Announcement, Call, SeasonPlan, TicketMailout
from channels.phone.planning import (
    PlannedInterval,
    age_group_counts,
    answered_per_interval,
    band_for_ages,
    expected_phone_share,
    plan_forecast,
)
from reservations.models import CohortOpening, Resident, Ticket
from tests.world import World, jst

pytestmark = pytest.mark.django_db

# A Monday in the 2026 autumn season; NOW is the Friday before it, 09:00.
MONDAY = dt.date(2026, 12, 7)
NOW = jst(2026, 12, 4, 9, 0)
_numbers = itertools.count(5_000_000)


def residents(world: World, birth_dates: list[dt.date]) -> None:
    """Ticket holders born on these dates, in two bulk inserts (a city's list is thousands)."""
    people = [
        Resident(
            municipality=world.municipality,
            name="日南 太郎",
            name_kana="ニチナン タロウ",
            birth_date=born,
            atena_number=f"{next(_numbers):08d}",
        )
        for born in birth_dates
    ]
    Resident.objects.bulk_create(people, batch_size=2000)
    ids = Resident.objects.filter(
        municipality=world.municipality, atena_number__in=[p.atena_number for p in people]
    ).values_list("pk", flat=True)
    Ticket.objects.bulk_create(
        [
            Ticket(municipality=world.municipality, number=f"{next(_numbers):010d}", resident_id=pk)
            for pk in ids
        ],
        batch_size=2000,
    )


def plan(world: World, **fields: object) -> SeasonPlan:
    return SeasonPlan.objects.create(
        municipality=world.municipality,
        name="令和8年度 秋冬",
        starts_on=dt.date(2026, 10, 1),
        ends_on=dt.date(2027, 3, 31),
        **fields,
    )


def day_rows(rows: list[PlannedInterval], date: dt.date) -> list[PlannedInterval]:
    return [r for r in rows if r.starts_at.date() == date]


def test_without_a_call_the_forecast_follows_the_cohort_size(world: World) -> None:
    """A cohort door opening on MONDAY for the over-75s; no call has ever been logged."""
    residents(world, [dt.date(1945, 5, 1)] * 200 + [dt.date(1990, 1, 1)] * 50)
    season = plan(world)
    CohortOpening.objects.create(
        municipality=world.municipality,
        born_to=dt.date(1951, 12, 31),
        opens_at=jst(2026, 12, 7, 9, 0),
    )
    assert not Call.objects.exists()
    first = plan_forecast(
        municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
    )
    assert len(first) == 16  # 09:00-17:00 in half hours
    callers = sum(r.callers for r in first)
    # 200 ticket holders × uptake 0.77 × phone share 0.56 (75+) × day 0 of a 1-day half-life.
    assert callers == pytest.approx(200 * 0.77 * 0.56 * 0.5)
    assert all(r.operators_needed > 0 for r in first[:4])
    assert season.operators_base == 5

    residents(world, [dt.date(1945, 5, 1)] * 200)  # twice the cohort
    second = plan_forecast(
        municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
    )
    assert sum(r.callers for r in second) == pytest.approx(2 * callers)


def test_a_mailout_reaches_callers_after_delivery_and_waits_over_the_weekend(
    world: World,
) -> None:
    residents(world, [dt.date(1955, 6, 1)] * 300)  # 71 in 2026: the 65-74 share, 0.40
    season = plan(world)
    # Posted on Wednesday 12/02, arriving Friday 12/04 (2 days): Saturday's and Sunday's
    # callers wait for Monday.
    TicketMailout.objects.create(
        plan=season, mailed_on=dt.date(2026, 12, 2), tickets=300, age_from=65, age_to=74
    )
    rows = plan_forecast(
        municipality=world.municipality,
        date_from=dt.date(2026, 12, 3),
        date_to=MONDAY,
        now=NOW,
    )
    per_day: dict[dt.date, float] = defaultdict(float)
    for r in rows:
        per_day[r.starts_at.date()] += r.callers
    reach = 300 * 0.77 * 0.40
    assert per_day[dt.date(2026, 12, 3)] == 0  # not delivered yet
    # Day k after arrival brings 2^(-k/2) - 2^(-(k+1)/2) of them (a half-life of 2 days).
    assert per_day[dt.date(2026, 12, 4)] == pytest.approx(reach * (1 - 2**-0.5))
    assert dt.date(2026, 12, 5) not in per_day  # the centre is closed at weekends
    # Monday takes days 1-3 after arrival: Saturday's and Sunday's callers and its own.
    assert per_day[MONDAY] == pytest.approx(reach * (2**-0.5 - 2**-2))
    # A share of a cohort's bookings that come by phone, weighted by its age groups.
    assert expected_phone_share(municipality=world.municipality, on=MONDAY) == pytest.approx(0.40)


def test_the_nine_oclock_spike(world: World) -> None:
    residents(world, [dt.date(1950, 1, 1)] * 400)
    season = plan(world)
    TicketMailout.objects.create(plan=season, mailed_on=dt.date(2026, 11, 30), tickets=400)
    rows = day_rows(
        plan_forecast(municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW),
        MONDAY,
    )
    nine, last = rows[0], rows[-1]
    assert nine.starts_at.time() == dt.time(9, 0) and last.starts_at.time() == dt.time(16, 30)
    assert nine.callers == max(r.callers for r in rows)
    # First half hour against one 7½ hours later, where the spike has all but gone.
    assert nine.callers / last.callers == pytest.approx(3.0, rel=0.02)
    assert [r.callers for r in rows] == sorted((r.callers for r in rows), reverse=True)
    assert nine.operators_needed >= last.operators_needed


def test_an_announcement_multiplies_the_rest_of_its_day_and_brings_callers(world: World) -> None:
    residents(world, [dt.date(1950, 1, 1)] * 400)
    season = plan(world)
    TicketMailout.objects.create(plan=season, mailed_on=dt.date(2026, 11, 30), tickets=400)
    before = plan_forecast(
        municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
    )
    Announcement.objects.create(
        plan=season,
        at=jst(2026, 12, 7, 12, 0),
        kind=Announcement.Kind.BROADCAST,
        multiplier=Decimal("2"),
    )
    after = plan_forecast(
        municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
    )
    for old, new in zip(before, after, strict=True):
        factor = 2 if new.starts_at.time() >= dt.time(12, 0) else 1
        assert new.callers == pytest.approx(old.callers * factor)


def test_redials_rise_when_lines_and_operators_fall_short(world: World) -> None:
    residents(world, [dt.date(1945, 1, 1)] * 3000)
    ample = plan(world, operators_base=30, operators_surge=40, lines_planned=60)
    TicketMailout.objects.create(plan=ample, mailed_on=dt.date(2026, 12, 3), tickets=3000)

    def nine() -> PlannedInterval:
        rows = plan_forecast(
            municipality=world.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
        )
        return rows[0]

    staffed = nine()
    assert staffed.attempts / staffed.callers < 1.05
    assert staffed.planned_calls == pytest.approx(staffed.callers, rel=0.05)

    SeasonPlan.objects.filter(pk=ample.pk).update(
        operators_base=2, operators_surge=3, lines_planned=4
    )
    short = nine()
    assert short.callers == pytest.approx(staffed.callers)
    assert short.attempts / short.callers > 3
    # Three operators answer at most 3 × 1800 / 360 = 15 calls in a half hour.
    assert short.planned_calls <= 15
    # The staffing needed does not depend on what was planned: it is for the callers.
    assert short.operators_needed == staffed.operators_needed > 3


def test_with_as_many_lines_as_operators_the_chain_is_erlang_b() -> None:
    """No waiting room on the line: answered = attempts × (1 − Erlang B)."""
    for attempts, lines in [(10, 3), (40, 10), (200, 8)]:
        traffic = attempts * 360 / 1800
        expected = attempts * (1 - erlang_b(lines, traffic))
        assert answered_per_interval(
            attempts, lines=lines, operators=lines, aht_seconds=360, patience_seconds=60
        ) == pytest.approx(expected, rel=1e-9)


def test_the_forecast_learns_from_the_call_log(world: World) -> None:
    """Callers came at twice the plan for a week: the coming days are re-planned upward, the
    past shows the forecast as it stood each morning, and k stays between plan and data."""
    residents(world, [dt.date(1950, 1, 1)] * 2000)
    season = plan(world)
    for week in range(4):  # a batch every Monday keeps the phones ringing
        TicketMailout.objects.create(
            plan=season, mailed_on=dt.date(2026, 11, 16) + dt.timedelta(weeks=week), tickets=500
        )
    now = jst(2026, 12, 1, 9, 0)  # Tuesday morning
    before = plan_forecast(
        municipality=world.municipality,
        date_from=dt.date(2026, 11, 23),
        date_to=dt.date(2026, 12, 2),
        now=now,
    )
    assert all(r.correction == 1.0 for r in before)  # nothing logged yet
    operator = world.operator
    for row in before:
        if row.starts_at + dt.timedelta(minutes=30) <= now:
            for index in range(round(2 * row.planned_calls)):
                moment = row.starts_at + dt.timedelta(seconds=index)
                Call.objects.create(
                    operator=operator,
                    municipality=world.municipality,
                    started_at=moment,
                    ended_at=moment,
                    handling_seconds=360,
                )
    after = plan_forecast(
        municipality=world.municipality,
        date_from=dt.date(2026, 11, 23),
        date_to=dt.date(2026, 12, 2),
        now=now,
    )
    first_day = day_rows(after, dt.date(2026, 11, 24))  # 11/23 is a holiday: closed
    assert first_day[0].correction == 1.0  # nothing was known that morning
    assert first_day[0].actual_calls == round(2 * first_day[0].planned_calls)
    coming = [r for r in after if r.starts_at >= now]
    assert coming and all(r.actual_calls is None for r in coming)
    k = coming[0].correction
    assert 1.4 < k < 2.0  # pulled towards the data, held back by the plan's prior
    assert coming[0].blended_calls == pytest.approx(k * coming[0].callers)
    # Friday morning had three days of evidence: already past the plan, not yet at the data.
    assert 1.2 < day_rows(after, dt.date(2026, 11, 27))[0].correction < 2.0
    busiest = max(coming, key=lambda r: r.callers)  # Wednesday 09:00, the next batch's arrival
    as_planned = next(r for r in before if r.starts_at == busiest.starts_at)
    assert busiest.operators_needed > as_planned.operators_needed


def test_the_command_prints_csv_per_half_hour(world: World) -> None:
    residents(world, [dt.date(1950, 1, 1)] * 400)
    season = plan(world)
    TicketMailout.objects.create(plan=season, mailed_on=dt.date(2026, 11, 30), tickets=400)
    out = io.StringIO()
    call_command(
        "forecast",
        "--municipality",
        "452041",
        "--from",
        "2026-12-07",
        "--to",
        "2026-12-08",
        stdout=out,
    )
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["日時", "予測入電", "必要オペレーター", "回線"]
    assert len(rows) == 1 + 2 * 16
    assert rows[1][0] == "2026-12-07 09:00" and float(rows[1][1]) > 0
    assert int(rows[1][2]) >= int(rows[16][2]) > 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--municipality", "999999", "--from", "2026-12-07", "--to", "2026-12-07"], "自治体"),
        (["--municipality", "452041", "--from", "2026-12-32", "--to", "2026-12-07"], "日付"),
        (["--municipality", "452041", "--from", "2026-12-08", "--to", "2026-12-07"], "以降"),
        (["--municipality", "452041", "--from", "2026-12-07", "--to", "2027-12-07"], "日以内"),
        (["--municipality", "452041", "--from", "2026-09-01", "--to", "2026-09-02"], "計画"),
    ],
)
def test_the_command_refuses_bad_arguments_in_japanese(
    world: World, arguments: list[str], message: str
) -> None:
    plan(world)
    with pytest.raises(CommandError, match=message):
        call_command("forecast", *arguments, stdout=io.StringIO())


def nichinan_birth_dates() -> list[dt.date]:
    """About 48,000 people, 19,000 of them 65 or over in autumn 2026 (日南市's size): 9,000
    aged 75+, 10,000 aged 65-74, 29,000 younger, spread evenly over the years of each band."""
    dates: list[dt.date] = []
    for count, oldest, youngest in [(9000, 1926, 1951), (10000, 1952, 1961), (29000, 1962, 2014)]:
        years = youngest - oldest + 1
        dates += [dt.date(oldest + i % years, 1 + i % 12, 1 + i % 28) for i in range(count)]
    return dates


def test_a_nichinan_sized_season_gives_a_base_team_and_a_surge(world: World) -> None:
    """The routine programme is for the over-65s (domain.md: B類 65+): their tickets go out
    oldest first, one age band a week, each batch the band's ticket holders (about 2,000)."""
    residents(world, nichinan_birth_dates())
    assert Resident.objects.filter(municipality=world.municipality).count() == 48000
    season = plan(world)
    bands = [(94, None), (88, 93), (81, 87), (75, 80), (73, 74), (71, 72), (69, 70), (67, 68)]
    bands += [(65, 66)]
    monday = dt.date(2026, 10, 5)
    mailed = 0
    for week, (age_from, age_to) in enumerate(bands):
        day = monday + dt.timedelta(weeks=week)
        holders = sum(
            age_group_counts(
                municipality=world.municipality,
                band=band_for_ages(on=day, age_from=age_from, age_to=age_to),
                on=day,
            )
        )
        TicketMailout.objects.create(
            plan=season, mailed_on=day, tickets=holders, age_from=age_from, age_to=age_to
        )
        mailed += holders
    assert 18000 < mailed <= 19000
    rows = plan_forecast(
        municipality=world.municipality,
        date_from=monday,
        date_to=monday + dt.timedelta(weeks=len(bands) + 1),
        now=jst(2026, 10, 1, 9, 0),
    )
    per_day: dict[dt.date, list[PlannedInterval]] = defaultdict(list)
    for row in rows:
        per_day[row.starts_at.date()].append(row)
    peaks = [max(r.operators_needed for r in day) for day in per_day.values()]
    typical = [statistics.median(r.operators_needed for r in day) for day in per_day.values()]
    base = round(statistics.median(typical))
    surge = max(peaks)
    print(
        f"\nNichinan-sized season: {mailed} tickets in {len(bands)} weekly batches, "
        f"{len(per_day)} open days, callers {sum(r.callers for r in rows):.0f}, "
        f"attempts {sum(r.attempts for r in rows):.0f}; operators on the phones: median half "
        f"hour {base}, daily peaks {sorted(peaks)}, surge {surge}; lines at the peak "
        f"{max(r.lines_needed for r in rows)}"
    )
    # The contractor's plan was 5 operators, up to 10 (domain.md §5).
    assert 3 <= base <= 7
    assert 8 <= surge <= 14


def test_seed_demo_adds_a_season_plan_through_its_signal(national_rules: None) -> None:
    out = io.StringIO()
    call_command("seed_demo", "--today", "2026-12-07", "--residents", "300", stdout=out)
    season = SeasonPlan.objects.get()
    assert season.covers(MONDAY) and season.mailouts.count() == 3
    assert "シーズン計画" in out.getvalue()
    rows = plan_forecast(
        municipality=season.municipality, date_from=MONDAY, date_to=MONDAY, now=NOW
    )
    assert sum(r.callers for r in rows) > 0
    call_command("seed_demo", "--today", "2026-12-07", "--residents", "300", stdout=out)
    assert SeasonPlan.objects.count() == 1  # a second run leaves the plan alone


def test_the_forecast_page_shows_the_plan_against_the_log(
    phone_world: World, manager: User
) -> None:
    residents(phone_world, [dt.date(1950, 1, 1)] * 400)
    season = plan(phone_world)
    TicketMailout.objects.create(plan=season, mailed_on=dt.date(2026, 10, 26), tickets=400)
    client = Client()
    client.force_login(manager)
    # The phone tests' clock stands at 2026-11-02 09:00: the day before shows its calls.
    query = {
        "date_from": "2026-10-30",
        "days": "4",
        "service_level": "80",
        "target_seconds": "20",
        "max_occupancy": "85",
        "shrinkage": "30",
        "max_blocking": "1",
    }
    page = client.get("/phone/forecast/", query).content.decode()
    assert "令和8年度 秋冬" in page and "<svg" in page and "補正係数" in page
    response = client.get("/phone/forecast.csv", query)
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 * 16  # Friday and Monday; the weekend is closed
    assert rows[0]["日時"] == "2026-10-30 09:00"
    assert rows[0]["実績入電"] == "0" and rows[-1]["実績入電"] == ""
    assert float(rows[0]["計画の発信者"]) > 0 and int(rows[0]["必要オペレーター（同時）"]) > 0


def test_the_plan_admin_lists_the_core_openings_read_only(
    world: World, admin_client: Client
) -> None:
    season = plan(world)
    CohortOpening.objects.create(
        municipality=world.municipality, born_to=dt.date(1946, 12, 31), opens_at=jst(2026, 12, 7, 9)
    )
    assert admin_client.get("/admin/phone/seasonplan/add/").status_code == 200
    page = admin_client.get(f"/admin/phone/seasonplan/{season.pk}/change/").content.decode()
    assert "2026-12-07 09:00" in page and "1946-12-31" in page
    # Links to the pages that read the plan, from its first opening.
    assert "/phone/rehearsal/?date=2026-12-07" in page
    assert "/phone/rota.csv?date_from=2026-12-07&amp;date_to=" in page
    assert "/phone/forecast/?date_from=2026-12-07&amp;days=14" in page
    # Overlapping plans are refused: the forecast takes each day from one plan.
    other = SeasonPlan(
        municipality=world.municipality,
        name="重なる計画",
        starts_on=dt.date(2027, 3, 1),
        ends_on=dt.date(2027, 9, 30),
    )
    with pytest.raises(ValidationError, match="重なっています"):
        other.full_clean()
