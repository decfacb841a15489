"""Booking across municipalities (住所地外接種, issue 18): the core refuses a ticket of one city in
another city's slot, on every path and for staff too, unless that city accepts the ticket's
city's residents (Municipality.accepts_residents_of), which works one way only.

The world is 日南市 (`world`) beside 都城市 (`world.neighbour()`), sharing campaign and vaccine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from reservations.exceptions import SlotOtherMunicipality
from reservations.models import Municipality, Reservation, ReservationEvent, Slot, Ticket
from reservations.selectors import slot_counter_mismatches
from reservations.services.booking import (
    reservation_book,
    reservation_change,
    reservation_hold,
)
from reservations.services.contact import reservation_book_with_contact
from tests.world import World

D = dt.date
pytestmark = pytest.mark.django_db

ACCEPTANCE_TABLE = Municipality.accepts_residents_of.through._meta.db_table


@pytest.fixture
def miyakonojo(world: World) -> World:
    return world.neighbour()


def counters(slot: Slot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.booked, slot.booked_staff


def assert_nothing_written(*slots: Slot) -> None:
    assert Reservation.objects.count() == 0
    assert ReservationEvent.objects.count() == 0
    for slot in slots:
        assert counters(slot) == (0, 0)
    assert slot_counter_mismatches() == []


def refusal(book: Callable[[], Any]) -> SlotOtherMunicipality:
    with pytest.raises(SlotOtherMunicipality) as caught:
        book()
    assert caught.value.code == "slot_other_municipality"
    return caught.value


def test_it_refuses_a_hold_in_another_citys_slot_and_writes_nothing(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    ticket, slot = world.resident(), miyakonojo.slot(D(2026, 11, 10))
    error = refusal(
        lambda: reservation_hold(ticket=ticket, slot=slot, requester=world.web, now=now)
    )
    assert error.detail == {"slot_municipality": "452025", "ticket_municipality": "452041"}
    # Both cities by name, and what to do instead.
    assert str(error.message) == (
        "この会場は都城市の会場のため、日南市の接種券では予約できません。"
        "日南市の会場をお選びいただくか、コールセンターにお電話ください。"
    )
    assert_nothing_written(slot)


def test_the_message_names_the_cities_in_the_readers_language(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    miyakonojo.municipality.name_en = "Miyakonojo City"
    miyakonojo.municipality.save()
    ticket, slot = world.resident(), miyakonojo.slot(D(2026, 11, 10))
    error = refusal(
        lambda: reservation_hold(ticket=ticket, slot=slot, requester=world.web, now=now)
    )
    # Raised once, read later: the names follow the language active when it is shown.
    with translation.override("en"):
        assert "Miyakonojo City" in str(error.message)
    assert "都城市" in str(error.message)


def test_staff_cannot_book_across_cities_even_with_every_override(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    world.operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["override_booking_window", "override_interval"])
    )
    ticket, slot = world.resident(), miyakonojo.slot(D(2026, 11, 10), reserved=2)
    refusal(
        lambda: reservation_book(
            ticket=ticket,
            slot=slot,
            requester=world.phone(),
            override_reason="本人の強い希望",
            now=now,
        )
    )
    assert_nothing_written(slot)


def test_a_partner_booking_with_contact_details_is_refused_and_keeps_them(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    ticket, slot = world.resident(), miyakonojo.slot(D(2026, 11, 10))
    refusal(
        lambda: reservation_book_with_contact(
            ticket=ticket,
            slot=slot,
            requester=world.phone(),
            phone="090-9999-0000",
            sms_consent=False,
            now=now,
        )
    )
    ticket.resident.refresh_from_db()
    assert (ticket.resident.phone, ticket.resident.sms_consent) == ("+819012345678", True)
    assert_nothing_written(slot)


def test_it_refuses_a_change_into_another_citys_slot_and_keeps_the_booking(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    ticket = world.resident()
    home, away = world.slot(D(2026, 11, 10)), miyakonojo.slot(D(2026, 11, 11))
    booking = reservation_book(ticket=ticket, slot=home, requester=world.web, now=now)
    events = booking.events.count()
    for requester in (world.web, world.phone()):
        refusal(
            lambda requester=requester: reservation_change(
                reservation=booking, slot=away.pk, requester=requester, now=now
            )
        )
    booking.refresh_from_db()
    assert booking.slot_id == home.pk and booking.status == Reservation.Status.CONFIRMED
    assert booking.events.count() == events
    assert counters(home) == (1, 0) and counters(away) == (0, 0)


def test_an_accepting_city_takes_the_other_citys_residents(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    miyakonojo.municipality.accepts_residents_of.add(world.municipality)
    ticket = world.resident()
    away, later = miyakonojo.slot(D(2026, 11, 10)), miyakonojo.slot(D(2026, 11, 12))
    held = reservation_hold(ticket=ticket, slot=away, requester=world.web, now=now)
    assert held.slot_id == away.pk and counters(away) == (1, 0)
    moved = reservation_change(reservation=held, slot=later, requester=world.web, now=now)
    assert moved.slot_id == later.pk
    assert counters(away) == (0, 0) and counters(later) == (1, 0)
    # And back home, which a ticket may always book.
    home = world.slot(D(2026, 11, 13))
    assert reservation_change(reservation=moved, slot=home, requester=world.web, now=now)
    assert slot_counter_mismatches() == []


def test_acceptance_is_one_way(world: World, miyakonojo: World, now: dt.datetime) -> None:
    # 都城市 accepts 日南市's residents; 日南市 has accepted nobody.
    miyakonojo.municipality.accepts_residents_of.add(world.municipality)
    assert not world.municipality.accepts_residents_of.exists()
    visitor, home_slot = miyakonojo.resident(name="都城 一郎"), world.slot(D(2026, 11, 10))
    error = refusal(
        lambda: reservation_book(ticket=visitor, slot=home_slot, requester=world.phone(), now=now)
    )
    assert error.detail == {"slot_municipality": "452041", "ticket_municipality": "452025"}
    assert_nothing_written(home_slot)


def test_acceptance_of_a_third_city_does_not_let_others_in(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    miyazaki = world.neighbour("452017", "宮崎市")
    miyakonojo.municipality.accepts_residents_of.add(miyazaki.municipality)
    slot = miyakonojo.slot(D(2026, 11, 10))
    refusal(
        lambda: reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    )
    booked = reservation_book(ticket=miyazaki.resident(), slot=slot, requester=world.web, now=now)
    assert booked.slot_id == slot.pk


def test_the_ticket_decides_not_the_residents_row(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    # A ticket of 都城市 held by a person on 日南市's list (entered by hand; the import never
    # does this): the ticket is what books, so 都城市's slots are its own and 日南市's are not.
    ticket = world.resident()
    away_ticket = Ticket.objects.create(
        municipality=miyakonojo.municipality, number="9000000001", resident=ticket.resident
    )
    home_slot, away_slot = world.slot(D(2026, 11, 10)), miyakonojo.slot(D(2026, 11, 10))
    refusal(
        lambda: reservation_book(ticket=away_ticket, slot=home_slot, requester=world.web, now=now)
    )
    booked = reservation_book(ticket=away_ticket, slot=away_slot, requester=world.web, now=now)
    assert booked.ticket_id == away_ticket.pk


def test_an_accepted_series_pairs_its_second_dose_in_the_accepting_city(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    world.primary_series()
    miyakonojo.campaign = world.campaign
    miyakonojo.municipality.accepts_residents_of.add(world.municipality)
    first = miyakonojo.slot(D(2026, 11, 10))
    second = miyakonojo.slot(D(2026, 12, 1))
    world.slot(D(2026, 12, 1))  # a seat at home on the same day is not where the pair goes
    booking = reservation_book(ticket=world.resident(), slot=first, requester=world.web, now=now)
    assert booking.next_dose is not None and booking.next_dose.slot_id == second.pk


def test_the_same_city_reads_nothing_about_acceptance(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    ticket, slot = world.resident(), world.slot(D(2026, 11, 10))
    with CaptureQueriesContext(connection) as same_city:
        reservation_book(ticket=ticket, slot=slot, requester=world.web, now=now)
    assert not any(ACCEPTANCE_TABLE in q["sql"] for q in same_city.captured_queries)
    # Only a booking across cities asks.
    away = miyakonojo.slot(D(2026, 11, 10))
    with CaptureQueriesContext(connection) as across:
        refusal(
            lambda: reservation_book(
                ticket=world.resident(), slot=away, requester=world.web, now=now
            )
        )
    assert sum(ACCEPTANCE_TABLE in q["sql"] for q in across.captured_queries) == 1


@pytest.mark.postgres
def test_postgresql_refuses_on_its_prepared_path_and_books_on(
    world: World, miyakonojo: World, now: dt.datetime
) -> None:
    # After a few bookings psycopg prepares the booking statements on the server (booking_sql
    # _cursor); a refusal inside that transaction must roll back cleanly and leave the
    # connection fit for the next booking.
    home = world.slot(D(2026, 11, 10), capacity=20)
    away = miyakonojo.slot(D(2026, 11, 10))
    for n in range(7):
        reservation_book(
            ticket=world.resident(name=f"日南 {n}"), slot=home, requester=world.web, now=now
        )
    refusal(
        lambda: reservation_book(ticket=world.resident(), slot=away, requester=world.web, now=now)
    )
    assert counters(away) == (0, 0)
    reservation_book(
        ticket=world.resident(name="日南 最後"), slot=home, requester=world.web, now=now
    )
    assert counters(home) == (8, 0)
    assert Reservation.objects.filter(slot=away).count() == 0
    assert slot_counter_mismatches() == []


def test_an_administrator_sets_the_acceptance_in_the_municipality_admin(
    world: World, miyakonojo: World, client: Client
) -> None:
    root = User.objects.create_user("root", password="x", is_staff=True, is_superuser=True)
    client.force_login(root)
    host = miyakonojo.municipality
    url = reverse("admin:reservations_municipality_change", args=[host.pk])
    page = client.get(url).content.decode()
    assert "住所地外接種を受け入れる自治体" in page
    assert 'name="accepts_residents_of"' in page
    # The field is a search box (autocomplete), fed by the municipality admin's search.
    found = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "日南",
            "app_label": "reservations",
            "model_name": "municipality",
            "field_name": "accepts_residents_of",
        },
    ).json()
    assert [row["id"] for row in found["results"]] == [str(world.municipality.pk)]
    response = client.post(
        url,
        {
            "code": host.code,
            "name": host.name,
            "call_centre_phone": host.call_centre_phone,
            "accepts_residents_of": [str(world.municipality.pk)],
            "closed_days-TOTAL_FORMS": "0",
            "closed_days-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(host.accepts_residents_of.all()) == [world.municipality]
    assert not world.municipality.accepts_residents_of.exists()
