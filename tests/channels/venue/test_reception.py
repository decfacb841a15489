"""Venue reception pages: lookups, check-in, outcomes, walk-ins, no-shows, the vial count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels.venue.references import walk_in_url
from reservations import roles
from reservations.models import (
    DayLot,
    OperatingDay,
    Reservation,
    ReservationEvent,
    Ticket,
    Vaccination,
)
from reservations.services.booking import reservation_book
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

# These pages and tasks read the clock themselves: it stands at `now`, inside the season.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def booked(world: World, today: dt.date) -> Reservation:
    # Midnight today: the slot has always started by the time the test runs.
    slot = world.slot(today, hour=0)
    day_before = jst(today.year, today.month, today.day) - dt.timedelta(days=1)
    return reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=day_before)


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(venue_staff("desk"))
    return client


def day_url(reservation: Reservation) -> str:
    return reverse("venue:day", args=[reservation.slot.operating_day_id])


def test_it_is_for_venue_staff_only(client: Client, world: World, booked: Reservation) -> None:
    response = client.get("/venue/")
    assert response.status_code == 302
    assert response["Location"] == "/phone/login/?next=/venue/"  # the one staff sign-in
    client.force_login(world.operator)  # an operator may book, not record doses
    refused = client.get(day_url(booked))
    assert refused.status_code == 403  # the staff 403 page with the way back, not a sign-in
    assert "このページを開く権限がありません" in refused.content.decode()


def test_the_only_day_today_opens_directly(desk: Client, booked: Reservation) -> None:
    response = desk.get("/venue/")
    assert response.status_code == 302 and response["Location"] == day_url(booked)


@pytest.mark.parametrize("how", ["code", "dashed_code", "ocr", "ticket", "fullwidth_ticket"])
def test_it_finds_the_booking_by_what_staff_type_or_scan(
    desk: Client, booked: Reservation, how: str
) -> None:
    number = booked.ticket.number
    query = {
        "code": booked.code,
        "dashed_code": f"{booked.code[:3]}-{booked.code[3:6]}-{booked.code[6:]}",
        "ocr": f"11452041{number}",
        "ticket": number,
        "fullwidth_ticket": number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    }[how]
    response = desk.get(day_url(booked), {"q": query})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "venue:reservation", args=[booked.slot.operating_day_id, booked.code]
    )


@pytest.mark.parametrize("query", ["114520410999999999", "114520480000000001", "12345"])
def test_it_explains_what_it_cannot_find(desk: Client, booked: Reservation, query: str) -> None:
    page = desk.get(day_url(booked), {"q": query}).content.decode()
    assert 'class="errorlist' in page


def test_check_in_and_record_a_dose_from_the_days_lots(
    desk: Client, world: World, booked: Reservation
) -> None:
    day = booked.slot.operating_day
    desk.post(
        reverse("venue:add_lot", args=[day.pk]), {"lot_number": "ＦＦ３６２０", "vials_opened": 2}
    )
    url = reverse("venue:reservation", args=[day.pk, booked.code])
    desk.post(reverse("venue:check_in", args=[day.pk, booked.code]))
    booked.refresh_from_db()
    assert booked.checked_in_at is not None
    assert booked.events.filter(kind=ReservationEvent.Kind.CHECKED_IN).count() == 1

    not_on_list = desk.post(
        url, {"outcome": "vaccinated", "lot_number": "XX1", "doctor_name": "医師"}
    )
    assert not_on_list.status_code == 200 and not Vaccination.objects.exists()
    response = desk.post(
        url,
        {
            "outcome": "vaccinated",
            "lot_number": "FF3620",
            "doctor_name": "宮崎 一郎",
            "vaccinated_at": "08:45",
        },
    )
    assert response.status_code == 302
    record = Vaccination.objects.get()
    assert (record.lot_number, record.doctor_name, record.dose_number) == ("FF3620", "宮崎 一郎", 1)
    assert record.given_in_municipality_code == "452041"
    assert timezone.localtime(record.vaccinated_at).strftime("%H:%M") == "08:45"
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.VACCINATED

    page = desk.get(day_url(booked)).content.decode()
    # Comirnaty 12+: 6 doses a vial; 2 vials opened, 1 dose given, 11 left over.
    assert [int(n) for n in _vial_numbers(page)] == [6, 2, 1, 11]


def _vial_numbers(page: str) -> list[str]:
    block = page.split('class="vials"')[1].split("</div>\n  <table>")[0]
    return [part.split("</strong>")[0] for part in block.split("<strong>")[1:]]


def test_prescreen_only_ends_the_booking_without_a_dose(desk: Client, booked: Reservation) -> None:
    day = booked.slot.operating_day
    url = reverse("venue:reservation", args=[day.pk, booked.code])
    assert desk.post(url, {"outcome": "prescreen_only"}).status_code == 302
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CANCELLED
    assert booked.cancel_reason == Reservation.CancelReason.NOT_VACCINATED
    assert Vaccination.objects.get().outcome == Vaccination.Outcome.PRESCREEN_ONLY


def test_a_walk_in_with_a_valid_ticket_is_recorded_without_a_booking(
    desk: Client, world: World, booked: Reservation
) -> None:
    day = booked.slot.operating_day
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    walker = world.resident(name="当日 来場")
    response = desk.get(day_url(booked), {"q": walker.number})
    # A signed reference to the ticket, never its sequential id (test_scope.py).
    assert response["Location"].startswith(f"/venue/day/{day.pk}/walk-in/")
    assert f"/walk-in/{walker.pk}/" not in response["Location"]
    desk.post(
        response["Location"],
        {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師 一"},
    )
    record = Vaccination.objects.get(resident=walker.resident)
    assert record.reservation is None and record.campaign == day.campaign


def test_a_void_ticket_cannot_walk_in(desk: Client, world: World, booked: Reservation) -> None:
    walker = world.resident()
    Ticket.objects.filter(pk=walker.pk).update(status=Ticket.Status.VOID)
    page = desk.get(day_url(booked), {"q": walker.number}).content.decode()
    assert "無効" in page
    day = booked.slot.operating_day
    assert desk.get(walk_in_url(day_id=day.pk, ticket_id=walker.pk)).status_code == 404


def test_a_future_day_cannot_be_recorded(desk: Client, world: World, today: dt.date) -> None:
    future = world.day(today + dt.timedelta(days=3))
    walker = world.resident()
    DayLot.objects.create(operating_day=future, lot_number="FF3620", vials_opened=1)
    page = desk.post(
        walk_in_url(day_id=future.pk, ticket_id=walker.pk),
        {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"},
    ).content.decode()
    assert "未来" in page and not Vaccination.objects.exists()


def test_end_of_day_marks_unclaimed_bookings_as_no_shows(
    desk: Client, world: World, booked: Reservation
) -> None:
    day: OperatingDay = booked.slot.operating_day
    url = reverse("venue:close_day", args=[day.pk])
    preview = desk.get(url).content.decode()
    assert booked.resident.name in preview and "1 件を来場なしにする" in preview
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED  # the preview writes nothing
    desk.post(url, {"reservation": [booked.pk]})
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.NO_SHOW
    assert booked.events.filter(kind=ReservationEvent.Kind.NO_SHOW).count() == 1


def test_the_reception_pages_use_only_local_assets(desk: Client, booked: Reservation) -> None:
    page = desk.get(day_url(booked)).content.decode()
    assert "/static/venue/venue.css" in page
    assert "http://" not in page and "https://" not in page


def test_staff_groups_can_use_reception() -> None:
    assert "add_daylot" in roles.ROLE_PERMISSIONS[roles.VENUE_STAFF]


def test_an_interval_the_rules_forbid_needs_a_permitted_override_reason(
    client: Client, world: World, booked: Reservation, today: dt.date
) -> None:
    from reservations.services.vaccinations import vaccination_record

    day = booked.slot.operating_day
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    walker = world.resident()
    for on in (dt.date(2021, 6, 1), dt.date(2021, 6, 22), today - dt.timedelta(days=30)):
        vaccination_record(
            resident=walker.resident,
            vaccine=world.vaccine,
            vaccinated_on=on,
            requester=world.phone(),
        )
    url = walk_in_url(day_id=day.pk, ticket_id=walker.pk)
    form = {
        "outcome": "vaccinated",
        "lot_number": "FF3620",
        "doctor_name": "医師",
        "override_reason": "海外渡航のため医師判断",
    }
    client.force_login(venue_staff("desk"))
    page = client.post(url, form).content.decode()
    assert "3か月" in page or "以降であれば" in page  # the rule's own message, not a generic one
    assert Vaccination.objects.filter(resident=walker.resident).count() == 3

    client.force_login(venue_staff("chief", roles.VENUE_STAFF, roles.ADMINISTRATORS))
    assert client.post(url, form).status_code == 302
    fourth = Vaccination.objects.get(resident=walker.resident, dose_number=4)
    assert fourth.override_reason == "海外渡航のため医師判断"
