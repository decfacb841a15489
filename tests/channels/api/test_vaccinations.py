"""POST /vaccinations/: venue staff record doses by 予約番号 or by ticket."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reservations.models import Reservation, Site, Vaccination
from tests.channels.api.conftest import Api, credentials
from tests.world import jst

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def today_booking(api: Api, clock: Any) -> str:
    """A confirmed booking for 10:00 today; the clock is then moved to the visit."""
    slot = api.world.slot(D(2026, 11, 2), 10)
    code: str = api.book(api.world.resident(), slot).json()["code"]
    clock.move_to(jst(2026, 11, 2, 10, 20))
    return code


def test_it_records_a_dose_by_reservation(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {
            "reservation": today_booking,
            "vaccinated_at": "2026-11-02T10:12:00+09:00",
            "lot_number": "FA1234",
            "doctor_name": "日南 一郎",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    record = Vaccination.objects.get()
    assert body == {
        "id": str(record.record_id),
        "version": 1,
        "status": "active",
        "reservation": today_booking,
        "dose_number": 1,
        "vaccine": "pfizer-12",
        "vaccinated_on": "2026-11-02",
        "vaccinated_at": "2026-11-02T10:12:00+09:00",
        "outcome": "vaccinated",
        "lot_number": "FA1234",
        "site": api.world.site.pk,
        "doctor_name": "日南 一郎",
    }
    assert Reservation.objects.get(code=today_booking).status == "vaccinated"
    # Recording it again (a second tablet) is refused, never silently duplicated: the core's
    # entry checks see a dose already given that day.
    again = api.venue.post("/api/v1/vaccinations/", {"reservation": today_booking}, format="json")
    assert (again.status_code, again.json()["code"]) == (422, "vaccination_invalid")
    assert Vaccination.objects.count() == 1


def test_it_defaults_the_time_to_now(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/", {"reservation": today_booking}, format="json"
    )
    assert response.json()["vaccinated_at"].startswith("2026-11-02T10:20")


def test_it_records_a_visit_without_a_dose(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "outcome": "prescreen_only"},
        format="json",
    )
    assert response.json()["outcome"] == "prescreen_only"
    assert Reservation.objects.get(code=today_booking).status == "cancelled"


def test_it_records_a_walk_in_by_ticket(api: Api, clock: Any) -> None:
    ticket = api.world.resident()
    clinic = Site.objects.create(municipality=api.world.municipality, name="南郷診療所")
    response = api.venue.post(
        "/api/v1/vaccinations/",
        credentials(ticket)
        | {"vaccine": "pfizer-12", "site": clinic.pk, "vaccinated_at": "2026-11-02T08:30:00+09:00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    record = Vaccination.objects.get()
    assert (record.resident, record.site, record.reservation) == (ticket.resident, clinic, None)
    assert record.campaign is not None and record.campaign.code == "covid-routine-2026"


def test_it_refuses_a_time_in_the_future(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "vaccinated_at": "2026-11-02T11:00:00+09:00"},
        format="json",
    )
    # 422, not 400: the time is well formed; the clock, which no schema states, refuses it.
    assert (response.status_code, response.json()["code"]) == (422, "vaccination_invalid")
    assert list(response.json()["detail"]) == ["vaccinated_at"]


def test_it_refuses_the_year_9999_without_an_error_of_its_own(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "vaccinated_at": "9999-12-31T23:59:59Z"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (422, "vaccination_invalid")


@pytest.mark.parametrize(
    "doctor", ["=cmd|'/C calc'!A0", "+1", "-1", "@A1", " =1", "\t=1", "山田\x85", "長" * 21]
)
def test_it_refuses_a_doctor_name_a_spreadsheet_would_run(
    api: Api, today_booking: str, doctor: str
) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "doctor_name": doctor, "lot_number": "FF3620"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(response.json()["detail"]) == ["doctor_name"]
    assert not Vaccination.objects.exists()


def test_it_refuses_a_lot_number_that_starts_with_a_hyphen(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "lot_number": "-A1"},
        format="json",
    )
    assert list(response.json()["detail"]) == ["lot_number"]


def test_an_unknown_vaccine_code_or_site_is_404(api: Api, today_booking: str) -> None:
    for extra in ({"vaccine": "no-such-vaccine"}, {"site": 999999}):
        response = api.venue.post(
            "/api/v1/vaccinations/", {"reservation": today_booking, **extra}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert list(response.json()["detail"]) == list(extra)


def test_it_refuses_a_dose_number_that_does_not_follow_the_history(
    api: Api, today_booking: str
) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/", {"reservation": today_booking, "dose_number": 3}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (422, "vaccination_invalid")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reservation": "123456789", "ticket_number": "0000000001"},
        {"municipality_code": "452041", "ticket_number": "0000000001", "birth_date": "1950-04-01"},
        {"reservation": "123456789", "outcome": "maybe"},
    ],
)
def test_it_gives_field_errors_for_incomplete_input(api: Api, body: dict[str, Any]) -> None:
    response = api.venue.post("/api/v1/vaccinations/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_it_answers_404_for_unknown_reservations_and_tickets(api: Api) -> None:
    by_code = api.venue.post("/api/v1/vaccinations/", {"reservation": "123456789"}, format="json")
    assert (by_code.status_code, by_code.json()["code"]) == (404, "not_found")
    ticket = api.world.resident()
    by_ticket = api.venue.post(
        "/api/v1/vaccinations/",
        credentials(ticket) | {"birth_date": "1950-04-02", "vaccine": "pfizer-12"},
        format="json",
    )
    assert (by_ticket.status_code, by_ticket.json()["code"]) == (404, "credentials_invalid")


@pytest.mark.parametrize(
    ("who", "status"),
    [("venue", 201), ("admin", 201), ("superuser", 201), ("operator", 403), ("exporter", 403)],
)
def test_only_venue_staff_and_administrators_record_doses(
    api: Api, today_booking: str, who: str, status: int
) -> None:
    response = getattr(api, who).post(
        "/api/v1/vaccinations/", {"reservation": today_booking}, format="json"
    )
    assert response.status_code == status
    assert api.anonymous.post("/api/v1/vaccinations/", {}, format="json").status_code == 401


def test_a_time_no_day_in_japan_can_hold_is_422(api: Api, today_booking: str) -> None:
    response = api.venue.post(
        "/api/v1/vaccinations/",
        {"reservation": today_booking, "vaccinated_at": "0001-01-01T00:00:00+14:00"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (422, "vaccination_invalid")
