"""The venue records the 自己負担区分 with the outcome, preselected from the day's programme."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from channels.venue.references import walk_in_url
from reservations.models import Campaign, DayLot, OperatingDay, Program, Vaccination, Vaccine
from tests.vrs_export.cohort import venue_staff
from tests.world import World

# These pages read the clock themselves: it stands at `now`, inside the season.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(venue_staff("desk"))
    return client


def _flu_day(world: World) -> OperatingDay:
    day = world.day(
        timezone.localdate(),
        vaccine=Vaccine.objects.get(code="influenza-ha"),
        campaign=Campaign.objects.get(code="influenza-routine-2026"),
    )
    DayLot.objects.create(operating_day=day, lot_number="HA123A", vials_opened=1)
    return day


def _selected(page: str) -> list[str]:
    select = page.split('name="copay_category"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)" selected>', select)


def _walk_in(world: World, day: OperatingDay) -> str:
    return walk_in_url(day_id=day.pk, ticket_id=world.resident().pk)


def test_a_routine_programme_preselects_charged(desk: Client, world: World) -> None:
    assert _selected(desk.get(_walk_in(world, _flu_day(world))).content.decode()) == ["1"]


def test_a_voluntary_programme_preselects_full_price(desk: Client, world: World) -> None:
    program = Program.objects.create(
        code="influenza-voluntary",
        name="インフルエンザ 任意接種",
        antigen="influenza",
        category=Program.Category.VOLUNTARY,
    )
    campaign = Campaign.objects.create(
        code="influenza-voluntary-2026",
        name="インフルエンザ 任意接種（令和8年度）",
        program=program,
        starts_on=dt.date(2026, 10, 1),
    )
    day = world.day(
        timezone.localdate(), vaccine=Vaccine.objects.get(code="influenza-ha"), campaign=campaign
    )
    assert _selected(desk.get(_walk_in(world, day)).content.decode()) == ["4"]


def test_a_special_temporary_programme_preselects_no_charge(desk: Client, world: World) -> None:
    day = world.primary_series().day(timezone.localdate())
    assert _selected(desk.get(_walk_in(world, day)).content.decode()) == ["5"]


def test_the_chosen_category_is_stored_and_shown(desk: Client, world: World) -> None:
    day = _flu_day(world)
    url = _walk_in(world, day)
    form = {"outcome": "vaccinated", "lot_number": "HA123A", "doctor_name": "宮崎 一郎"}
    assert desk.post(url, {**form, "copay_category": "3"}).status_code == 302
    record = Vaccination.objects.get()
    assert (record.copay_category, record.campaign) == ("3", day.campaign)
    # In the person's history (the select lists every label anyway).
    assert '自己負担区分">免除（住民税非課税）</td>' in desk.get(url).content.decode()


def test_an_unknown_category_is_refused_by_the_form(desk: Client, world: World) -> None:
    url = _walk_in(world, _flu_day(world))
    form = {"outcome": "vaccinated", "lot_number": "HA123A", "doctor_name": "宮崎 一郎"}
    page = desk.post(url, {**form, "copay_category": "9"})
    assert page.status_code == 200 and 'class="errorlist' in page.content.decode()
    assert not Vaccination.objects.exists()
