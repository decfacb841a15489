"""Reads: a resident's reservations and history, fill rates, counter reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest

from reservations.models import Slot
from reservations.selectors import (
    fill_rates,
    reservation_list_for_resident,
    slot_counter_mismatches,
    vaccination_list_for_resident,
)
from reservations.services.booking import reservation_book
from reservations.services.vaccinations import vaccination_record
from tests.world import World

D = dt.date
pytestmark = pytest.mark.django_db


def test_it_lists_only_this_residents_bookings_and_doses(world: World, now: dt.datetime) -> None:
    mine, other = world.resident(), world.resident(name="他人 次郎")
    booked = reservation_book(
        ticket=mine, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    reservation_book(ticket=other, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now)
    vaccination_record(
        resident=mine.resident,
        vaccine=world.vaccine,
        vaccinated_on=D(2025, 10, 20),
        requester=world.phone(),
        now=now,
    )
    assert list(reservation_list_for_resident(resident=mine.resident)) == [booked]
    assert [v.vaccinated_on for v in vaccination_list_for_resident(resident=mine.resident)] == [
        D(2025, 10, 20)
    ]


def test_it_computes_fill_rates_per_site_and_day(world: World, now: dt.datetime) -> None:
    world.slot(D(2026, 11, 10), 10, capacity=4)
    slot = world.slot(D(2026, 11, 10), 11, capacity=4)
    reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    [day] = fill_rates(
        municipality=world.municipality, date_from=D(2026, 11, 1), date_to=D(2026, 11, 30)
    )
    assert (day.capacity, day.booked, day.rate) == (8, 1, 0.125)


def test_it_reports_a_counter_that_disagrees_with_the_rows(world: World) -> None:
    slot = world.slot(D(2026, 11, 10))
    assert slot_counter_mismatches() == []
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    assert slot_counter_mismatches() == [slot.pk]
