"""The venue pages of a deployment serving two municipalities: staff of 日南市 see only 日南市's
days, and everything under another city's day (bookings, walk-ins, records, lots, lists) is a
404 that names nobody; a clinic's staff see only their own site; walk-in URLs carry a signed
reference instead of the ticket's sequential id; every page that shows residents is audited."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels.phone.models import RecordAccess
from channels.venue.references import walk_in_reference, walk_in_url
from reservations import roles
from reservations.models import (
    Actor,
    Channel,
    DayLot,
    OperatingDay,
    Reservation,
    Site,
    StaffAssignment,
    Ticket,
    Vaccination,
)
from reservations.services.booking import Requester, reservation_book
from reservations.services.vaccinations import vaccination_record
from tests.vrs_export.cohort import venue_staff
from tests.world import World, jst

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("season_clock")]

TODAY = dt.date(2026, 11, 2)  # the season clock stands at 09:00 JST, ticking


@dataclass
class City:
    """One municipality's day today: a booking at midnight (started, not checked in), an
    issued ticket with no booking (a walk-in), a dose recorded, a lot opened."""

    world: World
    day: OperatingDay
    booking: Reservation
    walker: Ticket
    dose: Vaccination


def _city(world: World, *, site: Site | None = None, who: str) -> City:
    ticket = world.resident(name=f"{who} 予約")
    slot = world.slot(TODAY, hour=0, site=site or world.site)
    booking = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=jst(2026, 11, 1))
    day = slot.operating_day
    DayLot.objects.create(operating_day=day, lot_number="FF3620", vials_opened=1)
    recorded = world.resident(name=f"{who} 記録")
    dose = vaccination_record(
        resident=recorded.resident,
        vaccine=world.vaccine,
        vaccinated_on=TODAY,
        vaccinated_at=jst(2026, 11, 2, 8, 30),
        requester=Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=world.operator),
        ticket=recorded,
        campaign=day.campaign,
        site=day.site,
        lot_number="FF3620",
        doctor_name="宮崎 一郎",
        copay_category="5",
    )
    return City(
        world=world, day=day, booking=booking, walker=world.resident(name=f"{who} 来場"), dose=dose
    )


@pytest.fixture
def nichinan(world: World) -> City:
    return _city(world, who="日南")


@pytest.fixture
def miyakonojo(world: World) -> City:
    return _city(world.neighbour(), who="都城")


@pytest.fixture
def clinic(world: World) -> City:
    """A clinic of 日南市 doing 個別接種, with a day of its own today."""
    site = Site.objects.create(municipality=world.municipality, name="油津クリニック")
    return _city(world, site=site, who="油津")


def _assigned(username: str, world: World, *, site: Site | None = None) -> User:
    user = venue_staff(username, roles.VENUE_STAFF)
    StaffAssignment.objects.create(user=user, municipality=world.municipality, site=site)
    return user


@pytest.fixture
def desk_user(world: World, nichinan: City, miyakonojo: City) -> User:
    return _assigned("desk", world)


@pytest.fixture
def desk(client: Client, desk_user: User) -> Client:
    client.force_login(desk_user)
    return client


def _names(city: City) -> list[str]:
    """What of the city's residents must never reach another city's desk."""
    out = []
    for ticket in (city.booking.ticket, city.walker, city.dose.ticket):
        assert ticket is not None
        out += [ticket.resident.name, ticket.number]
    return out + [city.booking.code, city.day.site.name]


def _urls(day: OperatingDay, booking: Reservation, dose: Vaccination, walker: Ticket) -> dict:
    """Every venue URL under a day, by name, with the GET or POST it takes."""
    d, code, record = day.pk, booking.code, dose.record_id
    return {
        "day": ("get", reverse("venue:day", args=[d]), {}),
        "find": ("get", reverse("venue:day", args=[d]), {"q": walker.number}),
        "add_lot": (
            "post",
            reverse("venue:add_lot", args=[d]),
            {"lot_number": "ZZ9999", "vials_opened": "3"},
        ),
        "close_day": ("get", reverse("venue:close_day", args=[d]), {}),
        "close_day_post": (
            "post",
            reverse("venue:close_day", args=[d]),
            {"reservation": [str(booking.pk)]},
        ),
        "day_list": ("get", reverse("venue:day_list", args=[d]), {}),
        "day_list_csv": ("get", reverse("venue:day_list_csv", args=[d]), {}),
        "walk_in": ("get", walk_in_url(day_id=d, ticket_id=walker.pk), {}),
        "walk_in_post": (
            "post",
            walk_in_url(day_id=d, ticket_id=walker.pk),
            {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"},
        ),
        "reservation": ("get", reverse("venue:reservation", args=[d, code]), {}),
        "record_booking": (
            "post",
            reverse("venue:reservation", args=[d, code]),
            {"outcome": "vaccinated", "lot_number": "FF3620", "doctor_name": "医師"},
        ),
        "check_in": ("post", reverse("venue:check_in", args=[d, code]), {}),
        "mark_no_show": ("post", reverse("venue:mark_no_show", args=[d, code]), {}),
        "undo_no_show": ("post", reverse("venue:undo_no_show", args=[d, code]), {}),
        "correct": ("get", reverse("venue:correct", args=[d, record]), {}),
        "correct_post": (
            "post",
            reverse("venue:correct", args=[d, record]),
            {
                "version": "1",
                "vaccinated_on": TODAY.isoformat(),
                "vaccinated_at": "08:30",
                "lot_number": "FF3620",
                "doctor_name": "別の 医師",
                "copay_category": "5",
                "reason": "誤り",
            },
        ),
        "cancel_record": (
            "post",
            reverse("venue:cancel_record", args=[d, record]),
            {"version": "1", "cancel_reason": "誤り"},
        ),
    }


URL_NAMES = [
    "day",
    "find",
    "add_lot",
    "close_day",
    "close_day_post",
    "day_list",
    "day_list_csv",
    "walk_in",
    "walk_in_post",
    "reservation",
    "record_booking",
    "check_in",
    "mark_no_show",
    "undo_no_show",
    "correct",
    "correct_post",
    "cancel_record",
]


def _state(city: City) -> tuple:
    """Everything a venue POST could change of a city."""
    booking = Reservation.objects.get(pk=city.booking.pk)
    return (
        booking.status,
        booking.checked_in_at,
        list(DayLot.objects.filter(operating_day=city.day).values_list("lot_number", flat=True)),
        list(
            Vaccination.objects.filter(resident__municipality=city.world.municipality)
            .order_by("pk")
            .values_list("record_id", "version", "status", "doctor_name")
        ),
    )


def _send(client: Client, how: str, url: str, data: dict):  # type: ignore[no-untyped-def]
    return client.post(url, data) if how == "post" else client.get(url, data)


@pytest.mark.parametrize("name", URL_NAMES)
def test_another_citys_day_is_not_found_and_names_nobody(
    desk: Client, nichinan: City, miyakonojo: City, name: str
) -> None:
    b = miyakonojo
    before = _state(b)
    how, url, data = _urls(b.day, b.booking, b.dose, b.walker)[name]
    response = _send(desk, how, url, data)
    assert response.status_code == 404
    page = response.content.decode()
    assert "ページが見つかりません" in page and 'href="/venue/"' in page  # the way back
    for secret in _names(b):
        assert secret not in page
    assert _state(b) == before
    assert not RecordAccess.objects.filter(municipality=b.world.municipality).exists()


# What hangs under a day is reached only through it: 日南市's own day, with 都城市's code,
# record or ticket, is a 404 too (and 日南市's day is left as it was).
CROSSED = ["reservation", "record_booking", "check_in", "mark_no_show", "undo_no_show"]
CROSSED += ["correct", "correct_post", "cancel_record", "walk_in", "walk_in_post"]


@pytest.mark.parametrize("name", CROSSED)
def test_another_citys_code_record_or_ticket_under_our_day_is_not_found(
    desk: Client, nichinan: City, miyakonojo: City, name: str
) -> None:
    b = miyakonojo
    before = (_state(b), _state(nichinan))
    how, url, data = _urls(nichinan.day, b.booking, b.dose, b.walker)[name]
    response = _send(desk, how, url, data)
    assert response.status_code == 404
    for secret in _names(b):
        assert secret not in response.content.decode()
    assert (_state(b), _state(nichinan)) == before


def test_our_own_day_works_as_before(desk: Client, nichinan: City, miyakonojo: City) -> None:
    a = nichinan
    for name in ("day", "close_day", "day_list", "day_list_csv", "walk_in", "reservation"):
        how, url, data = _urls(a.day, a.booking, a.dose, a.walker)[name]
        assert _send(desk, how, url, data).status_code == 200, name
    assert desk.get(reverse("venue:correct", args=[a.day.pk, a.dose.record_id])).status_code == 200
    response = desk.post(reverse("venue:check_in", args=[a.day.pk, a.booking.code]))
    assert response.status_code == 302
    assert Reservation.objects.get(pk=a.booking.pk).checked_in_at is not None


def test_the_home_page_lists_only_our_citys_days(
    desk: Client, world: World, nichinan: City, miyakonojo: City, clinic: City
) -> None:
    # Tomorrow's lists too: one day of each city.
    world.day(TODAY + dt.timedelta(days=1))
    miyakonojo.world.day(TODAY + dt.timedelta(days=1))
    page = desk.get("/venue/").content.decode()
    assert reverse("venue:day", args=[nichinan.day.pk]) in page
    assert reverse("venue:day", args=[clinic.day.pk]) in page
    assert "都城市" not in page
    assert f"/venue/day/{miyakonojo.day.pk}/" not in page


def test_the_only_day_in_scope_opens_directly(
    desk: Client, nichinan: City, miyakonojo: City
) -> None:
    # Two days today in the deployment, one of them ours: straight to it.
    response = desk.get("/venue/")
    assert response.status_code == 302
    assert response["Location"] == reverse("venue:day", args=[nichinan.day.pk])


def test_a_clinics_staff_see_only_their_site(
    client: Client, world: World, nichinan: City, miyakonojo: City, clinic: City
) -> None:
    client.force_login(_assigned("clinic", world, site=clinic.day.site))
    response = client.get("/venue/")  # their one day today
    assert response["Location"] == reverse("venue:day", args=[clinic.day.pk])
    page = client.get(response["Location"]).content.decode()
    assert clinic.booking.resident.name in page
    assert nichinan.booking.resident.name not in page
    for name in ("day", "day_list", "walk_in", "reservation", "correct", "check_in"):
        how, url, data = _urls(nichinan.day, nichinan.booking, nichinan.dose, nichinan.walker)[name]
        assert _send(client, how, url, data).status_code == 404, name
    assert Reservation.objects.get(pk=nichinan.booking.pk).checked_in_at is None
    # The municipality's own tickets may still walk in at the clinic (same municipality).
    url = reverse("venue:day", args=[clinic.day.pk])
    found = client.get(url, {"q": nichinan.walker.number})
    assert found.status_code == 302 and "/walk-in/" in found["Location"]


# --- Find for reception ------------------------------------------------------------------------


def _ocr(ticket: Ticket) -> str:
    return f"11{ticket.municipality.code}{ticket.number}"


@pytest.mark.parametrize("how", ["ocr_walk_in", "ocr_booked", "code"])
def test_find_does_not_reach_another_citys_tickets(
    desk: Client, nichinan: City, miyakonojo: City, how: str
) -> None:
    b = miyakonojo
    query = {
        "ocr_walk_in": _ocr(b.walker),
        "ocr_booked": _ocr(b.booking.ticket),
        "code": b.booking.code,
    }[how]
    response = desk.get(reverse("venue:day", args=[nichinan.day.pk]), {"q": query})
    assert response.status_code == 200  # the page again, with the message
    page = response.content.decode()
    assert "見つかりません" in page or "登録されていません" in page
    for secret in _names(b):
        if secret not in query:  # the typed value is echoed back in the field
            assert secret not in page
    assert not RecordAccess.objects.filter(municipality=b.world.municipality).exists()


def test_find_reaches_a_city_whose_residents_we_accept(
    desk: Client, world: World, nichinan: City, miyakonojo: City
) -> None:
    # 住所地外接種: 日南市 accepts 都城市's residents (one-way).
    world.municipality.accepts_residents_of.add(miyakonojo.world.municipality)
    url = reverse("venue:day", args=[nichinan.day.pk])
    response = desk.get(url, {"q": _ocr(miyakonojo.walker)})
    assert response.status_code == 302 and "/walk-in/" in response["Location"]
    page = desk.get(response["Location"]).content.decode()
    assert miyakonojo.walker.resident.name in page
    # A bare ticket number is still looked up in the site's own municipality only.
    bare = desk.get(url, {"q": miyakonojo.walker.number})
    assert bare.status_code == 200 and "登録されていません" in bare.content.decode()


# --- Walk-in references ------------------------------------------------------------------------


def test_the_walk_in_url_carries_no_ticket_id(desk: Client, nichinan: City) -> None:
    url = reverse("venue:day", args=[nichinan.day.pk])
    location = desk.get(url, {"q": nichinan.walker.number})["Location"]
    reference = location.rstrip("/").rsplit("/", 1)[1]
    assert not re.fullmatch(r"\d+", reference)
    assert desk.get(location).status_code == 200


@pytest.mark.parametrize("kind", ["bare_id", "tampered", "other_day", "garbage", "bool"])
def test_a_guessed_or_altered_walk_in_reference_is_not_found(
    desk: Client, world: World, nichinan: City, kind: str
) -> None:
    day, ticket = nichinan.day, nichinan.walker
    tomorrow = world.day(TODAY + dt.timedelta(days=1))
    good = walk_in_reference(day_id=day.pk, ticket_id=ticket.pk)
    reference = {
        "bare_id": str(ticket.pk),
        "tampered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "other_day": walk_in_reference(day_id=tomorrow.pk, ticket_id=ticket.pk),
        "garbage": "%E3%81%82:::",
        "bool": walk_in_reference(day_id=day.pk, ticket_id=True),  # type: ignore[arg-type]
    }[kind]
    response = desk.get(f"/venue/day/{day.pk}/walk-in/{reference}/")
    assert response.status_code == 404
    assert ticket.resident.name not in response.content.decode()


def test_an_expired_walk_in_reference_says_so(desk: Client, nichinan: City) -> None:
    # Made by the find step early this morning, opened now (09:00): over four hours old.
    with time_machine.travel(jst(2026, 11, 2, 4, 30), tick=False):
        url = walk_in_url(day_id=nichinan.day.pk, ticket_id=nichinan.walker.pk)
    response = desk.get(url, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[0][0] == reverse("venue:day", args=[nichinan.day.pk])
    assert "有効期限が切れました" in page


def test_a_void_ticket_no_longer_walks_in(desk: Client, nichinan: City) -> None:
    url = walk_in_url(day_id=nichinan.day.pk, ticket_id=nichinan.walker.pk)
    Ticket.objects.filter(pk=nichinan.walker.pk).update(status=Ticket.Status.VOID)
    assert desk.get(url).status_code == 404


# --- Audit -------------------------------------------------------------------------------------


def _reads(page: str) -> list[tuple[int, str]]:
    return sorted(
        RecordAccess.objects.filter(
            channel=RecordAccess.Channel.VENUE,
            action=RecordAccess.Action.VIEWED,
            detail__page=page,
        ).values_list("resident_id", "user__username")
    )


def test_every_page_showing_residents_is_audited(
    desk: Client, nichinan: City, miyakonojo: City
) -> None:
    a = nichinan
    booked, walker, recorded = (
        a.booking.resident_id,
        a.walker.resident_id,
        a.dose.resident_id,
    )
    desk.get(reverse("venue:day", args=[a.day.pk]), REMOTE_ADDR="2001:db8::7")
    assert _reads("venue_day") == sorted([(booked, "desk"), (recorded, "desk")])
    row = RecordAccess.objects.filter(detail__page="venue_day", resident_id=booked).get()
    assert row.detail["code"] == a.booking.code and row.detail["site"] == a.day.site.name
    assert row.municipality_id == a.world.municipality.pk
    assert row.client_address == "2001:db8::7"

    location = desk.get(reverse("venue:day", args=[a.day.pk]), {"q": a.walker.number})
    assert _reads("venue_find") == [(walker, "desk")]
    desk.get(location["Location"])
    assert _reads("venue_walk_in") == [(walker, "desk")]

    desk.get(reverse("venue:reservation", args=[a.day.pk, a.booking.code]))
    assert _reads("venue_reservation") == [(booked, "desk")]

    desk.get(reverse("venue:close_day", args=[a.day.pk]))
    assert _reads("venue_close") == [(booked, "desk")]

    desk.get(reverse("venue:correct", args=[a.day.pk, a.dose.record_id]))
    assert _reads("venue_correction") == [(recorded, "desk")]

    # The printed list keeps its own audit (channels/venue/services.py day_list_read).
    desk.get(reverse("venue:day_list", args=[a.day.pk]))
    assert RecordAccess.objects.filter(detail__list="venue_day", resident_id=booked).count() == 1

    # Nothing of 都城市 was read by anyone.
    assert not RecordAccess.objects.filter(municipality=miyakonojo.world.municipality).exists()


def test_a_record_page_shows_earlier_doses_with_links_through_their_own_day(
    desk: Client, world: World, nichinan: City, miyakonojo: City
) -> None:
    """The history's correction links go through the day each dose was given on, never
    through today's day with another day's record (which would be a 404)."""
    a = nichinan
    earlier_day = world.day(TODAY - dt.timedelta(days=30))
    earlier = vaccination_record(
        resident=a.walker.resident,
        vaccine=world.vaccine,
        vaccinated_on=earlier_day.date,
        requester=Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=world.operator),
        campaign=earlier_day.campaign,
        site=earlier_day.site,
        lot_number="FF3620",
        doctor_name="宮崎 一郎",
        copay_category="5",
    )
    page = desk.get(walk_in_url(day_id=a.day.pk, ticket_id=a.walker.pk)).content.decode()
    through_its_day = reverse("venue:correct", args=[earlier_day.pk, earlier.record_id])
    assert through_its_day in page
    assert reverse("venue:correct", args=[a.day.pk, earlier.record_id]) not in page
    assert desk.get(through_its_day).status_code == 200
    assert desk.get(reverse("venue:correct", args=[a.day.pk, earlier.record_id])).status_code == (
        404
    )
    assert timezone.localdate() == TODAY
