"""The venue's new forms under hostile input (the classes of tests/test_hostile_input.py, which
walks every URL but cannot reach a correction without a real record id): a clear refusal or a
valid write, never a 5xx, never half a correction."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from reservations.models import Actor, Channel, DayLot, Reservation, Vaccination
from reservations.services.booking import Requester, reservation_book
from reservations.services.vaccinations import vaccination_record
from tests.test_hostile_input import CLASSES, HOSTILE, INVALID_UTF8
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

TODAY = dt.date(2026, 11, 2)
FORM = "application/x-www-form-urlencoded"

CORRECTION = {
    "version": "1",
    "vaccinated_on": "2026-11-02",
    "vaccinated_at": "08:40",
    "lot_number": "FF3620",
    "doctor_name": "宮崎 一郎",
    "copay_category": "1",
    "reason": "確認",
}


def _body(form: dict[str, str], field: str, value_class: str) -> str:
    hostile = "%FF%FE" if value_class == INVALID_UTF8 else quote(HOSTILE[value_class], safe="")
    return "&".join(
        f"{name}={hostile if name == field else quote(value, safe='')}"
        for name, value in form.items()
    )


@pytest.fixture
def desk() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(venue_staff("desk"))
    return client


@pytest.fixture
def dose(world: World) -> Vaccination:
    day = world.day(TODAY)
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    return vaccination_record(
        resident=world.resident().resident,
        vaccine=world.vaccine,
        vaccinated_on=TODAY,
        vaccinated_at=jst(2026, 11, 2, 8, 40),
        requester=Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=venue_staff("a")),
        site=day.site,
        lot_number="FF3620",
        doctor_name="宮崎 一郎",
        copay_category="1",
    )


@pytest.mark.parametrize("value_class", CLASSES)
@pytest.mark.parametrize("field", list(CORRECTION))
def test_a_hostile_correction_is_refused_or_written_whole(
    desk: Client, world: World, dose: Vaccination, field: str, value_class: str
) -> None:
    day_id = world.day(TODAY).pk
    url = reverse("venue:correct", args=[day_id, dose.record_id])
    response = desk.post(url, _body(CORRECTION, field, value_class), content_type=FORM)
    assert response.status_code in (200, 302, 400)
    versions = list(Vaccination.objects.filter(record_id=dose.record_id).order_by("version"))
    if response.status_code == 302:  # accepted: a whole new version with its reason
        assert [v.status for v in versions] == ["superseded", "active"]
        assert versions[1].change_reason.strip()
    else:
        assert [v.status for v in versions] == ["active"]


@pytest.mark.parametrize("value_class", CLASSES)
@pytest.mark.parametrize("field", ["version", "cancel_reason"])
def test_a_hostile_cancellation_is_refused_or_written_whole(
    desk: Client, world: World, dose: Vaccination, field: str, value_class: str
) -> None:
    url = reverse("venue:cancel_record", args=[world.day(TODAY).pk, dose.record_id])
    form = {"version": "1", "cancel_reason": "別人として記録"}
    response = desk.post(url, _body(form, field, value_class), content_type=FORM)
    assert response.status_code in (200, 302, 400)
    statuses = list(
        Vaccination.objects.filter(record_id=dose.record_id)
        .order_by("version")
        .values_list("status", flat=True)
    )
    assert statuses == (["superseded", "cancelled"] if response.status_code == 302 else ["active"])


@pytest.mark.parametrize("value_class", CLASSES)
def test_a_hostile_end_of_day_confirmation_marks_nothing(
    desk: Client, world: World, value_class: str
) -> None:
    booking = reservation_book(
        ticket=world.resident(),
        slot=world.slot(TODAY, hour=8),
        requester=world.web,
        now=jst(2026, 11, 1),
    )
    url = reverse("venue:close_day", args=[booking.slot.operating_day_id])
    response = desk.post(
        url, _body({"reservation": ""}, "reservation", value_class), content_type=FORM
    )
    assert response.status_code in (200, 400)
    booking.refresh_from_db()
    assert booking.status == Reservation.Status.CONFIRMED
