"""Reads: a resident's reservations and history, fill rates, counter reconciliation, and the
booking page's days and times against the slot listing."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from reservations import selectors
from reservations.exceptions import ReservationError
from reservations.models import (
    Campaign,
    Channel,
    OperatingDay,
    Program,
    Reservation,
    Resident,
    Site,
    Slot,
    Ticket,
    Vaccine,
)
from reservations.selectors import (
    AvailableSlot,
    BookableDay,
    bookable_day_slots,
    bookable_days,
    bookable_days_for_change,
    fill_rates,
    reservation_list_for_resident,
    slot_counter_mismatches,
    slot_list_available,
    slot_list_for_change,
    vaccination_list_for_resident,
)
from reservations.services.booking import reservation_book, reservation_hold
from reservations.services.vaccinations import vaccination_record
from tests.world import World, local_date

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


# --- The booking page's reads agree with the listing ------------------------------------------
#
# `bookable_days` / `bookable_day_slots` (one grouped query, then one day's slots) must show
# exactly what `slot_list_available` lists; `…_for_change` what `slot_list_for_change` lists.
# Each seed builds a different world (sites, vaccines, campaigns, windows, phone reserves and
# their release, expired holds, residents of every age with doses given and booked) and
# compares both ways for every resident and channel.


def _listing_days(available: list[AvailableSlot]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    days: dict[tuple[Any, ...], list[AvailableSlot]] = {}
    for a in available:
        day = a.slot.operating_day
        days.setdefault((day.date, day.site_id, day.vaccine_id), []).append(a)
    return {
        key: (
            slots[0].slot.operating_day.campaign_id,
            min(a.slot.starts_at for a in slots),
            sum(a.slot.capacity for a in slots),
            sum(a.seats_left for a in slots),
        )
        for key, slots in days.items()
    }


def _page_days(days: list[BookableDay]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (day.date, day.site_id, day.vaccine.pk): (
            day.campaign.pk,
            day.first_start,
            day.capacity,
            day.seats_left,
        )
        for day in days
    }


def _times(available: list[AvailableSlot], day: BookableDay) -> list[tuple[int, int]]:
    return [
        (a.slot.pk, a.seats_left)
        for a in available
        if (
            a.slot.operating_day.date,
            a.slot.operating_day.site_id,
            a.slot.operating_day.vaccine_id,
        )
        == (day.date, day.site_id, day.vaccine.pk)
    ]


def _random_world(world: World, rng: random.Random, now: dt.datetime) -> list[Ticket]:
    """Operating days on random dates, sites, vaccines and campaigns, with random windows,
    reserves and seats taken; and residents whose age and history the rules treat differently."""
    short = Campaign.objects.create(
        code="test-short",
        name="短期キャンペーン（テスト）",
        program=Program.objects.get(code="covid-primary"),
        starts_on=D(2026, 11, 5),
        ends_on=D(2026, 11, 25),
    )
    short.vaccines.add(world.vaccine)
    primary = Campaign.objects.create(
        code="test-primary",
        name="初回接種（テスト）",
        program=Program.objects.get(code="covid-primary"),
        starts_on=D(2026, 1, 1),
    )
    moderna = Vaccine.objects.get(code="moderna")
    primary.vaccines.add(world.vaccine, moderna)
    routine = world.campaign
    flu = Campaign.objects.get(code="influenza-routine-2026")
    choices = [
        (routine, world.vaccine),
        (routine, moderna),
        (flu, Vaccine.objects.get(code="influenza-ha")),
        (primary, world.vaccine),
        (short, world.vaccine),
    ]
    sites = [
        world.site,
        Site.objects.create(municipality=world.municipality, name="油津公民館"),
        Site.objects.create(municipality=world.municipality, name="閉鎖中の会場", is_active=False),
    ]
    today = local_date(now)
    for _ in range(rng.randint(12, 30)):
        campaign, vaccine = rng.choice(choices)
        date = today + dt.timedelta(days=rng.randint(0, 50))
        options = {
            "site": rng.choice(sites),
            "vaccine": vaccine,
            "campaign": campaign,
            "opens": rng.choice([3, 10, 60]),
            "closes": rng.choice([0, 0, 1, 2]),
            "release_hours": rng.choice([None, 24, 48, 30]),
        }
        if OperatingDay.objects.filter(site=options["site"], date=date, vaccine=vaccine).exists():
            continue
        for hour in rng.sample(range(8, 18), rng.randint(1, 4)):
            capacity = rng.randint(1, 6)
            slot = world.slot(
                date,
                hour,
                rng.choice([0, 30]),
                capacity=capacity,
                reserved=rng.randint(0, capacity),
                **options,
            )
            booked = rng.randint(0, capacity)
            Slot.objects.filter(pk=slot.pk).update(
                booked=booked, booked_staff=rng.randint(0, booked)
            )
    slots = list(Slot.objects.order_by("pk"))
    for slot in rng.sample(slots, min(len(slots), 6)):
        # Holds that ran out before `now`, counted as free seats by both reads.
        holds = rng.randint(1, slot.capacity)
        Slot.objects.filter(pk=slot.pk).update(booked=holds, booked_staff=0)
        for _hold in range(holds):
            holder = world.resident(D(1940, 1, 1))
            Reservation.objects.create(
                code=f"{rng.randrange(10**8, 10**9)}",
                resident=holder.resident,
                ticket=holder,
                slot=slot,
                campaign_id=slot.operating_day.campaign_id,
                vaccine_id=slot.operating_day.vaccine_id,
                dose_number=1,
                status=Reservation.Status.HELD,
                held_until=now - dt.timedelta(minutes=rng.randint(1, 30)),
                channel=Channel.WEB,
            )
    people = [
        world.resident(D(1950, 4, 1)),
        world.resident(D(1961, 11, 20), attested=True),
        world.resident(D(1963, 2, 10)),
        world.resident(D(1990, 6, 15)),
        world.resident(D(1961, 12, 1)),
    ]
    first_dose = world.resident(D(1980, 1, 1))
    vaccination_record(
        resident=first_dose.resident,
        vaccine=world.vaccine,
        vaccinated_on=today - dt.timedelta(days=rng.randint(1, 30)),
        campaign=primary,
        dose_number=1,
        requester=world.phone(),
        now=now,
    )
    flu_given = world.resident(D(1948, 5, 5))
    vaccination_record(
        resident=flu_given.resident,
        vaccine=Vaccine.objects.get(code="influenza-ha"),
        vaccinated_on=today - dt.timedelta(days=rng.randint(0, 5)),
        campaign=flu,
        requester=world.phone(),
        now=now,
    )
    return [*people, first_dose, flu_given]


def _first_booking(
    world: World, ticket: Ticket, *, now: dt.datetime, date_from: dt.date, date_to: dt.date
) -> Reservation | None:
    """A booking to move: in the first listed slot the core lets this resident take."""
    for available in slot_list_available(
        resident=ticket.resident, date_from=date_from, date_to=date_to, now=now
    ):
        try:
            return reservation_book(
                ticket=ticket,
                slot=available.slot,
                requester=world.web,
                book_next_dose=False,
                now=now,
            )
        except ReservationError:
            continue
    return None


@pytest.mark.parametrize("seed", range(8))
def test_the_booking_page_reads_agree_with_the_listing(
    world: World, now: dt.datetime, seed: int
) -> None:
    rng = random.Random(seed)
    tickets = _random_world(world, rng, now)
    today = local_date(now)
    window = {"date_from": today, "date_to": today + dt.timedelta(days=45)}
    compared = 0
    for ticket in tickets:
        resident = Resident.objects.select_related("municipality").get(pk=ticket.resident_id)
        for channel in (Channel.WEB, Channel.PHONE):
            listing = slot_list_available(resident=resident, channel=channel, now=now, **window)
            days = bookable_days(resident=resident, channel=channel, now=now, **window)
            assert _page_days(days) == _listing_days(listing), (seed, ticket, channel)
            for day in days:
                times = bookable_day_slots(
                    day=day, municipality=resident.municipality, channel=channel, now=now
                )
                assert [(a.slot.pk, a.seats_left) for a in times] == _times(listing, day)
            compared += len(listing)
        booked = _first_booking(world, ticket, now=now, **window)
        if booked is None:
            continue
        listing = slot_list_for_change(reservation=booked, now=now, **window)
        days = bookable_days_for_change(reservation=booked, now=now, **window)
        assert _page_days(days) == _listing_days(listing), (seed, ticket, "change")
        for day in days:
            times = bookable_day_slots(
                day=day,
                municipality=resident.municipality,
                now=now,
                exclude_slot_id=booked.slot_id,
            )
            assert [(a.slot.pk, a.seats_left) for a in times] == _times(listing, day)
    assert compared > 0  # the world offered someone something


def test_a_days_seats_follow_the_phone_reserve_release_slot_by_slot(
    world: World, now: dt.datetime
) -> None:
    # Release 24 hours before each slot: at 09:00 on 11/2, tomorrow's 08:00 slot is released
    # (its reserve is free to the web), tomorrow's 10:00 slot is not.
    tomorrow = D(2026, 11, 3)
    world.slot(tomorrow, 8, capacity=4, reserved=2, release_hours=24)
    world.slot(tomorrow, 10, capacity=4, reserved=2, release_hours=24)
    [day] = bookable_days(
        resident=world.resident().resident, date_from=tomorrow, date_to=tomorrow, now=now
    )
    assert (day.capacity, day.seats_left, day.mark) == (8, 4 + 2, "○")
    [phone_day] = bookable_days(
        resident=world.resident().resident,
        date_from=tomorrow,
        date_to=tomorrow,
        channel=Channel.PHONE,
        now=now,
    )
    assert phone_day.seats_left == 8


def test_a_day_counts_run_out_holds_as_free_seats(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=1)
    reservation_hold(
        ticket=world.resident(), slot=slot, requester=world.web, now=now - dt.timedelta(hours=1)
    )
    resident = world.resident().resident
    window = {"date_from": D(2026, 11, 10), "date_to": D(2026, 11, 10)}
    [day] = bookable_days(resident=resident, now=now, **window)
    assert day.seats_left == 1
    [before_it_ran_out] = bookable_days(
        resident=resident, now=now - dt.timedelta(minutes=55), **window
    )
    assert (before_it_ran_out.seats_left, before_it_ran_out.mark) == (0, "×")


def test_public_day_lists_reuse_the_seat_sums_for_a_moment_and_staff_never(
    world: World, now: dt.datetime, settings: Any, django_assert_num_queries: Any
) -> None:
    """At an opening the same sums are asked hundreds of times a second: a public list reuses
    them for BOOKING_DAY_LIST_REUSE_SECONDS (the hold re-checks the seat), staff read afresh."""
    settings.BOOKING_DAY_LIST_REUSE_SECONDS = 60
    slot = world.slot(D(2026, 11, 10), capacity=2)
    resident = world.resident().resident
    window = {"date_from": D(2026, 11, 10), "date_to": D(2026, 11, 10)}
    [day] = bookable_days(resident=resident, now=now, **window)
    reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    with django_assert_num_queries(2):  # the dose history (doses, bookings); no grouped query
        [reused] = bookable_days(resident=resident, now=now, **window)
    assert (day.seats_left, reused.seats_left) == (2, 2)
    [phone_day] = bookable_days(resident=resident, channel=Channel.PHONE, now=now, **window)
    assert phone_day.seats_left == 1
    settings.BOOKING_DAY_LIST_REUSE_SECONDS = 0
    [fresh] = bookable_days(resident=resident, now=now, **window)
    assert fresh.seats_left == 1


def test_a_refused_date_is_not_asked_again_before_its_earliest_date(
    world: World, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dose interval refuses the first weeks; the rules are asked once for them, not once
    per day, and the days after the interval are offered."""
    world.primary_series()
    ticket = world.resident(D(1980, 1, 1))
    vaccination_record(
        resident=ticket.resident,
        vaccine=world.vaccine,
        vaccinated_on=D(2026, 10, 30),
        campaign=world.campaign,
        dose_number=1,
        requester=world.phone(),
        now=now,
    )
    for offset in range(40):
        world.slot(D(2026, 11, 3) + dt.timedelta(days=offset))
    asked: list[dt.date] = []
    real_check = selectors.dose_check

    def counting_check(**kwargs: Any) -> Any:
        asked.append(kwargs["on"])
        return real_check(**kwargs)

    monkeypatch.setattr(selectors, "dose_check", counting_check)
    days = bookable_days(
        resident=ticket.resident, date_from=D(2026, 11, 2), date_to=D(2026, 12, 31), now=now
    )
    monkeypatch.undo()
    listing = slot_list_available(
        resident=ticket.resident, date_from=D(2026, 11, 2), date_to=D(2026, 12, 31), now=now
    )
    assert _page_days(days) == _listing_days(listing)
    assert days and days[0].date > D(2026, 11, 3)
    refused = [on for on in asked if on < days[0].date]
    assert refused == [D(2026, 11, 3)]
