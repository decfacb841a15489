"""Recording a dose at the desk: the lot preselected when only one is open, the time from a
picker that defaults to now (JST) and refuses the future, and a refusal said once, in words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from channels.venue.references import walk_in_url
from reservations.models import DayLot, OperatingDay, Vaccination
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db]

NOW = jst(2026, 11, 2, 9, 30)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    # Stopped, not ticking: the default time on the page is compared to the minute.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(venue_staff("desk"))
    return client


@pytest.fixture
def day(world: World) -> OperatingDay:
    return world.day(NOW.date())


def _walk_in(world: World, day: OperatingDay, birth_date: dt.date = dt.date(1950, 4, 1)) -> str:
    return walk_in_url(day_id=day.pk, ticket_id=world.resident(birth_date).pk)


def _selected_lot(page: str) -> list[str]:
    select = page.split('name="lot_number"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)" selected>', select)


def _alert(page: str) -> str:
    return page.split('role="alert">')[1].split("</div>")[0].replace("<p>", "").replace("</p>", "")


def test_the_only_lot_of_the_day_is_preselected(
    desk: Client, world: World, day: OperatingDay
) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    url = _walk_in(world, day)
    assert _selected_lot(desk.get(url).content.decode()) == ["FF3620"]
    DayLot.objects.create(operating_day=day, lot_number="GG1111", vials_opened=1)
    assert _selected_lot(desk.get(url).content.decode()) == [""]  # two lots: staff choose


def test_the_time_is_a_picker_set_to_now_in_jst(
    desk: Client, world: World, day: OperatingDay
) -> None:
    page = desk.get(_walk_in(world, day)).content.decode()
    field = re.search(r'<input[^>]*name="vaccinated_at"[^>]*>', page)
    assert field is not None
    assert 'type="time"' in field.group() and 'value="09:30"' in field.group()


def test_a_dose_recorded_later_has_no_default_time(desk: Client, world: World) -> None:
    yesterday = world.day(NOW.date() - dt.timedelta(days=1))
    page = desk.get(_walk_in(world, yesterday)).content.decode()
    field = re.search(r'<input[^>]*name="vaccinated_at"[^>]*>', page)
    assert field is not None and "value=" not in field.group()


@pytest.mark.parametrize("typed", ["09:15", "０９：１５", "9:15"])
def test_a_time_typed_as_text_is_read(
    desk: Client, world: World, day: OperatingDay, typed: str
) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    form = {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"}
    response = desk.post(_walk_in(world, day), {**form, "vaccinated_at": typed})
    assert response.status_code == 302
    recorded = Vaccination.objects.get().vaccinated_at
    assert recorded is not None
    assert timezone.localtime(recorded) == jst(2026, 11, 2, 9, 15)


@pytest.mark.parametrize(
    ("typed", "message"),
    [("09:31", "未来の時刻は入力できません（現在 09:30）"), ("25:00", "「時:分」で入力")],
)
def test_a_future_or_unreadable_time_is_refused(
    desk: Client, world: World, day: OperatingDay, typed: str, message: str
) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    form = {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"}
    page = desk.post(_walk_in(world, day), {**form, "vaccinated_at": typed}).content.decode()
    assert message in page
    assert not Vaccination.objects.exists()


def test_a_blank_time_is_now(desk: Client, world: World, day: OperatingDay) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    form = {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"}
    assert desk.post(_walk_in(world, day), form).status_code == 302
    assert Vaccination.objects.get().vaccinated_at == NOW


def test_a_visit_without_a_dose_keeps_no_preselected_lot(
    desk: Client, world: World, day: OperatingDay
) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    form = {"outcome": "prescreen_only", "lot_number": "FF3620", "doctor_name": "医師"}
    assert desk.post(_walk_in(world, day), form).status_code == 302
    assert Vaccination.objects.get().lot_number == ""


def test_a_refused_walk_in_is_told_once_in_plain_words(
    desk: Client, world: World, day: OperatingDay
) -> None:
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    # 62 on the day and no attestation: the routine programme does not cover them.
    url = _walk_in(world, day, dt.date(1964, 5, 1))
    form = {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"}
    page = desk.post(url, form).content.decode()
    assert page.count("本日は接種できません。") == 1
    assert page.count("60歳以上65歳未満の方が対象です") == 1
    assert "「予診のみ」または「接種せず」" in page
    assert "covid.routine" not in page and re.search(r"[A-Za-z]", _alert(page)) is None
    assert 'role="alert"' in page
    assert not Vaccination.objects.exists()


def test_a_refusal_names_the_first_date_that_would_pass(
    desk: Client, world: World, day: OperatingDay
) -> None:
    from reservations.services.vaccinations import vaccination_record

    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    walker = world.resident()
    for on in (dt.date(2021, 6, 1), dt.date(2021, 6, 22), NOW.date() - dt.timedelta(days=30)):
        vaccination_record(
            resident=walker.resident,
            vaccine=world.vaccine,
            vaccinated_on=on,
            requester=world.phone(),
        )
    url = walk_in_url(day_id=day.pk, ticket_id=walker.pk)
    form = {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"}
    page = desk.post(url, form).content.decode()
    sentence = re.search(r"(\d{4}-\d{2}-\d{2})（令和[^）]+）以降であれば接種できます。", page)
    assert sentence is not None and dt.date.fromisoformat(sentence.group(1)) > NOW.date()
    assert page.count("本日は接種できません。") == 1
    # The rule in words, never its internal id (no Latin letters in the Japanese sentence).
    assert re.search(r"[A-Za-z]", _alert(page)) is None
