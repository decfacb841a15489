"""One rule for "how late can one book" (selectors.slot_timing), the first bookable day every
channel names from it, and why a resident cannot book (selectors.booking_prospects)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from reservations.cohorts import cohort_openings_cache_clear
from reservations.exceptions import (
    CohortNotOpenYet,
    NotEligible,
    OutsideBookingWindow,
)
from reservations.models import Campaign, CohortOpening, Vaccine
from reservations.selectors import (
    booking_prospects,
    first_bookable_days,
    slot_list_available,
    slot_timing,
)
from reservations.services.booking import reservation_book
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cohort_cache() -> Iterator[None]:
    cohort_openings_cache_clear()
    yield
    cohort_openings_cache_clear()


def test_a_slot_is_offered_inside_its_window_and_until_it_starts(world: World) -> None:
    # Bookable up to the day itself, changeable online until the day before.
    slot = world.slot(D(2026, 12, 7), 14, opens=30, closes=0, change_closes=1)
    day = slot.operating_day

    def timing(moment: dt.datetime) -> tuple[bool, bool]:
        verdict = slot_timing(day=day, starts_at=slot.starts_at, now=moment)
        return verdict.offered, verdict.changeable_online

    assert timing(jst(2026, 11, 6, 23, 59)) == (False, True)  # the window opens on 11/7
    assert timing(jst(2026, 11, 7, 0, 0)) == (True, True)
    assert timing(jst(2026, 12, 6, 23, 59)) == (True, True)  # the last day to change online
    # On the day: still offered, no longer changeable online.
    assert timing(jst(2026, 12, 7, 9, 0)) == (True, False)
    assert timing(jst(2026, 12, 7, 14, 0)) == (False, False)  # it has started
    assert slot_timing(
        day=day, starts_at=slot.starts_at, now=jst(2026, 12, 7, 9, 0)
    ).changes_close_after == D(2026, 12, 6)


def test_the_first_bookable_day_is_today_while_today_is_offered(world: World) -> None:
    world.slot(D(2026, 12, 7), 9, closes=0)
    world.slot(D(2026, 12, 7), 14, closes=0)
    world.slot(D(2026, 12, 8), 10, closes=0)
    key = (world.campaign.pk, world.vaccine.pk)
    assert first_bookable_days(municipality_id=world.municipality.pk, now=jst(2026, 12, 7, 10, 0))[
        key
    ].date == D(2026, 12, 7)
    # Once the last slot of the day has started, the next day is the first.
    assert first_bookable_days(municipality_id=world.municipality.pk, now=jst(2026, 12, 7, 14, 0))[
        key
    ].date == D(2026, 12, 8)


def test_the_first_bookable_day_respects_the_days_own_window(world: World) -> None:
    world.slot(D(2026, 12, 7), 14, closes=1)  # booking closed on 12/6
    world.slot(D(2026, 12, 9), 10, opens=1)  # opens on 12/8
    world.slot(D(2026, 12, 10), 10, closes=1)
    first = first_bookable_days(municipality_id=world.municipality.pk, now=jst(2026, 12, 7, 9, 0))
    assert first[world.campaign.pk, world.vaccine.pk].date == D(2026, 12, 10)


def test_the_listing_offers_exactly_what_slot_timing_offers(world: World) -> None:
    now = jst(2026, 12, 7, 10, 0)
    slots = [
        world.slot(D(2026, 12, 7), 9, closes=0),  # started
        world.slot(D(2026, 12, 7), 14, closes=0),
        world.slot(D(2026, 12, 8), 10, closes=2, opens=60),  # closed on 12/6
        world.slot(D(2026, 12, 20), 10, opens=5),  # opens on 12/15
        world.slot(D(2026, 12, 21), 10, opens=30),
    ]
    resident = world.resident().resident
    listed = {
        a.slot.pk
        for a in slot_list_available(
            resident=resident, date_from=D(2026, 12, 7), date_to=D(2026, 12, 31), now=now
        )
    }
    offered = {
        s.pk
        for s in slots
        if slot_timing(day=s.operating_day, starts_at=s.starts_at, now=now).offered
    }
    assert listed == offered == {slots[1].pk, slots[4].pk}


def test_prospects_name_the_rule_and_the_earliest_date_for_someone_too_young(
    world: World,
) -> None:
    world.slot(D(2026, 11, 10))
    # 65 on 2027-01-15 (age counts from the day before the birthday): eligible from 01-14.
    ticket = world.resident(D(1962, 1, 15))
    [prospect] = booking_prospects(resident=ticket.resident, now=jst(2026, 11, 2, 9, 0))
    assert isinstance(prospect.refusal, NotEligible)
    assert prospect.refusal.rule_code.startswith("covid.routine.")
    assert prospect.refusal.earliest_date == D(2027, 1, 14)
    assert prospect.first_day is not None and prospect.first_day.date == D(2026, 11, 10)


def test_prospects_say_nothing_against_someone_who_may_book(world: World) -> None:
    world.slot(D(2026, 11, 10))
    [prospect] = booking_prospects(resident=world.resident().resident, now=jst(2026, 11, 2, 9, 0))
    assert prospect.refusal is None and prospect.dose_number == 1


def test_prospects_name_the_limit_once_the_season_is_booked(world: World) -> None:
    slot = world.slot(D(2026, 11, 10))
    ticket = world.resident()
    reservation_book(ticket=ticket, slot=slot, requester=world.web, now=jst(2026, 11, 2, 9, 0))
    [prospect] = booking_prospects(resident=ticket.resident, now=jst(2026, 11, 2, 9, 0))
    assert isinstance(prospect.refusal, NotEligible)
    assert prospect.refusal.rule_code == "program.covid-routine.limit"


def test_prospects_name_the_opening_of_a_window_not_yet_open(world: World) -> None:
    world.slot(D(2026, 11, 20), opens=5)
    [prospect] = booking_prospects(resident=world.resident().resident, now=jst(2026, 11, 2, 9, 0))
    assert isinstance(prospect.refusal, OutsideBookingWindow)
    assert prospect.refusal.detail["opens_on"] == "2026-11-15"
    assert prospect.first_day is None


def test_prospects_name_a_shut_cohort_door(world: World) -> None:
    world.slot(D(2026, 11, 10))
    CohortOpening.objects.create(
        municipality=world.municipality,
        born_from=D(1947, 1, 1),
        born_to=D(1961, 12, 31),
        opens_at=jst(2026, 11, 9, 9, 0),
    )
    [prospect] = booking_prospects(
        resident=world.resident(D(1950, 4, 1)).resident, now=jst(2026, 11, 2, 9, 0)
    )
    assert isinstance(prospect.refusal, CohortNotOpenYet)


def test_prospects_judge_each_vaccine_of_each_campaign(world: World) -> None:
    flu = Vaccine.objects.get(code="influenza-ha")
    flu_campaign = Campaign.objects.get(code="influenza-routine-2026")
    world.slot(D(2026, 11, 10))
    world.slot(D(2026, 11, 11), vaccine=flu, campaign=flu_campaign)
    ticket = world.resident()
    reservation_book(
        ticket=ticket,
        slot=world.slot(D(2026, 11, 10), 11),
        requester=world.web,
        now=jst(2026, 11, 2, 9, 0),
    )
    prospects = {
        p.vaccine.code: p
        for p in booking_prospects(resident=ticket.resident, now=jst(2026, 11, 2, 9, 0))
    }
    assert prospects.keys() == {"pfizer-12", "influenza-ha"}
    assert prospects["influenza-ha"].refusal is None
    assert isinstance(prospects["pfizer-12"].refusal, NotEligible)
