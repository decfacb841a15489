"""Call-volume forecast from the log and known events, with staffing by Erlang C/B."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.erlang import staffing_required
from channels.phone.forecast import ForecastParameters, forecast
from channels.phone.models import Call, CallVolumeEvent
from tests.world import World, jst

pytestmark = pytest.mark.django_db
PARAMETERS = ForecastParameters(
    aht_seconds=900,
    service_level=0.8,
    target_seconds=20,
    max_occupancy=0.85,
    shrinkage=0.3,
    max_blocking=0.01,
)
MONDAY = dt.date(2026, 12, 7)
# The scenarios' own 'now': the Friday before MONDAY. (The pages read the clock, which the
# phone tests' conftest holds at 2026-11-02, before MONDAY too.)
NOW = jst(2026, 12, 4, 9, 0)


def calls_at(world: World, start: dt.datetime, count: int) -> None:
    for index in range(count):
        moment = start + dt.timedelta(minutes=index)
        Call.objects.create(
            operator=world.operator,
            municipality=world.municipality,
            started_at=moment,
            ended_at=moment + dt.timedelta(minutes=15),
            handling_seconds=900,
        )


def at(rows: list, date: dt.date, hour: int, minute: int = 0):  # type: ignore[no-untyped-def]
    return next(
        r
        for r in rows
        if r.starts_at.date() == date and (r.starts_at.hour, r.starts_at.minute) == (hour, minute)
    )


def test_the_forecast_averages_the_same_weekday_and_half_hour(phone_world: World) -> None:
    calls_at(phone_world, jst(2026, 11, 30, 10), 4)  # Monday
    calls_at(phone_world, jst(2026, 11, 16, 10), 6)  # Monday
    calls_at(phone_world, jst(2026, 12, 1, 10), 30)  # a Tuesday: not this profile
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=MONDAY,
        days=1,
        parameters=PARAMETERS,
        now=NOW,
    )
    assert len(rows) == 16  # 09:00-17:00 in half hours
    ten = at(rows, MONDAY, 10)
    assert ten.forecast_calls == 5.0
    assert at(rows, MONDAY, 10, 30).forecast_calls == 0.0
    expected = staffing_required(
        calls=5,
        interval_seconds=1800,
        aht_seconds=900,
        service_level_target=0.8,
        target_seconds=20,
        max_occupancy=0.85,
        shrinkage=0.3,
        max_blocking=0.01,
    )
    assert ten.staffing == expected
    assert ten.actual_calls is None  # in the future


def test_known_events_multiply_and_are_taken_out_of_the_history(phone_world: World) -> None:
    calls_at(phone_world, jst(2026, 11, 30, 10), 10)  # a mail-out day: ×2.5 the usual 4
    CallVolumeEvent.objects.create(
        municipality=phone_world.municipality,
        date=dt.date(2026, 11, 30),
        kind=CallVolumeEvent.Kind.TICKET_MAILOUT,
        multiplier=Decimal("2.5"),
    )
    CallVolumeEvent.objects.create(
        municipality=phone_world.municipality,
        date=MONDAY,
        kind=CallVolumeEvent.Kind.PUBLICITY,
        multiplier=Decimal("3"),
    )
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=MONDAY,
        days=1,
        parameters=PARAMETERS,
        now=NOW,
    )
    ten = at(rows, MONDAY, 10)
    assert ten.forecast_calls == 12.0 and ten.multiplier == 3.0


def test_a_booking_opening_raises_the_forecast(phone_world: World, settings: object) -> None:
    calls_at(phone_world, jst(2026, 11, 30, 10), 4)
    phone_world.day(MONDAY + dt.timedelta(days=30), opens=30)  # its window opens on MONDAY
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=MONDAY,
        days=1,
        parameters=PARAMETERS,
        now=NOW,
    )
    assert at(rows, MONDAY, 10).forecast_calls == 8.0  # PHONE_FORECAST_OPENING_MULTIPLIER 2.0


def test_a_holiday_uses_holidays_or_falls_back_to_all_days(phone_world: World) -> None:
    # 2026-11-23 is 勤労感謝の日 (a Monday): the Monday profile must not be used for it.
    calls_at(phone_world, jst(2026, 11, 16, 10), 8)  # Monday
    calls_at(phone_world, jst(2026, 11, 17, 10), 2)  # Tuesday
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=dt.date(2026, 11, 23),
        days=1,
        parameters=ForecastParameters(**{**PARAMETERS.__dict__, "history_weeks": 1}),
        now=NOW,
    )
    assert at(rows, dt.date(2026, 11, 23), 10).forecast_calls == 5.0  # mean of open days


def test_past_intervals_show_the_actual_calls_and_staff(phone_world: World) -> None:
    calls_at(phone_world, jst(2026, 11, 9, 9), 3)
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=dt.date(2026, 11, 9),
        days=1,
        parameters=PARAMETERS,
        now=NOW,
    )
    nine = at(rows, dt.date(2026, 11, 9), 9)
    assert (nine.actual_calls, nine.staffed) == (3, 1)


def test_the_manager_gets_a_chart_a_table_and_csv(
    phone_world: World, manager: User, operator_client: Client
) -> None:
    calls_at(phone_world, jst(2026, 11, 30, 10), 4)
    client = Client()
    client.force_login(manager)
    query = {
        "date_from": "2026-12-07",
        "days": "2",
        "service_level": "80",
        "target_seconds": "20",
        "max_occupancy": "85",
        "shrinkage": "30",
        "max_blocking": "1",
        "aht_seconds": "900",
    }
    text = client.get("/phone/forecast/", query).content.decode()
    response = client.get("/phone/forecast.csv", query)
    assert "<svg" in text and "12/07 (月) 10:00" in text
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 32
    # Japanese headers, and times as the rota CSV and `manage.py forecast` write them.
    assert list(rows[0])[:3] == ["日時", "予測入電", "実績入電"]
    ten = next(r for r in rows if r["日時"] == "2026-12-07 10:00")
    assert ten["予測入電"] == "4.00" and ten["配置人数"] != "0"
    assert operator_client.get("/phone/forecast/").status_code == 403


def test_bad_inputs_are_shown_on_the_form(phone_world: World, manager: User) -> None:
    client = Client()
    client.force_login(manager)
    text = client.get(
        "/phone/forecast/", {"date_from": "2026-13-01", "days": "0", "service_level": "100"}
    ).content.decode()
    assert "errorlist" in text or 'class="error"' in text


def test_a_day_type_without_calls_in_the_history_is_a_closed_day(phone_world: World) -> None:
    calls_at(phone_world, jst(2026, 11, 30, 10), 4)  # Monday; Saturdays had no calls
    rows = forecast(
        municipality=phone_world.municipality,
        date_from=dt.date(2026, 12, 12),
        days=1,
        parameters=PARAMETERS,
        now=NOW,
    )
    assert all(r.forecast_calls == 0 and r.staffing.staff == 0 for r in rows)


def forecast_page(manager: User, query: dict[str, str] | None = None) -> str:
    client = Client()
    client.force_login(manager)
    return client.get("/phone/forecast/", query or {}).content.decode()


def test_without_call_history_the_page_says_so_and_what_it_is_based_on(
    phone_world: World, manager: User
) -> None:
    text = forecast_page(manager)
    assert "通話記録がまだないため、予測入電と必要人数はすべて 0 になっています。" in text
    # The phone tests' clock: 2026-11-02, so the window is the eight weeks before it.
    assert "開始日の前の8週間（2026-09-07〜2026-11-01）の通話記録" in text
    assert "シーズン計画" in text
    # The handling time used is in its field: the default, there being no log to learn from.
    assert re.search(r'name="aht_seconds" value="900"', text)
    assert "通話記録がないときの既定値は 900 秒" in text


def test_with_history_the_basis_and_the_learned_handling_time_are_shown(
    phone_world: World, manager: User
) -> None:
    for day in (19, 26):  # two Mondays of calls, 12 minutes each
        for n in range(3):
            moment = jst(2026, 10, day, 10, n)
            Call.objects.create(
                operator=phone_world.operator,
                municipality=phone_world.municipality,
                started_at=moment,
                ended_at=moment + dt.timedelta(minutes=12),
                handling_seconds=720,
            )
    text = forecast_page(manager)
    assert "通話記録がまだないため" not in text
    assert "通話記録 2 日分・6 件" in text
    assert "通話記録が 2 日分しかないため、この予測はおおまかな目安です。" in text
    assert re.search(r'name="aht_seconds" value="720"', text)
    assert "通話記録の実績は 720 秒" in text
    # A typed handling time is kept; a cleared field is filled in with the learned one again.
    query = {
        "date_from": "2026-11-02",
        "days": "1",
        "service_level": "80",
        "target_seconds": "20",
        "max_occupancy": "85",
        "shrinkage": "30",
        "max_blocking": "1",
    }
    typed = forecast_page(manager, {**query, "aht_seconds": "300"})
    assert re.search(r'name="aht_seconds" value="300"', typed)
    assert "平均処理時間 300 秒で計算" in typed
    cleared = forecast_page(manager, {**query, "aht_seconds": ""})
    assert re.search(r'name="aht_seconds" value="720"', cleared)
