"""Real races on PostgreSQL: many connections at once, started together by a barrier.

The naive control (read, check in Python, write) runs in the same harness and must overbook,
which shows the harness can see a race at all (research/performance.md §6).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F

from reservations.exceptions import AlreadyBooked, NotEligible
from reservations.models import Reservation, Slot, Ticket
from reservations.selectors import slot_counter_mismatches
from reservations.services.booking import reservation_book
from reservations.services.vaccinations import vaccination_record
from tests.racing import race
from tests.world import World

D = dt.date
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def outcome(result: Any) -> str:
    if isinstance(result, AlreadyBooked):  # returned, not raised, to keep its detail
        return result.code
    return "booked" if isinstance(result, Reservation) else str(result)


def test_it_sells_the_last_five_seats_exactly_once(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=5)
    tickets = [world.resident() for _i in range(50)]
    results = race(
        [
            (lambda t=t: reservation_book(ticket=t, slot=slot, requester=world.web, now=now))
            for t in tickets
        ]
    )
    assert Counter(outcome(r) for r in results) == {"booked": 5, "slot_full": 45}
    slot.refresh_from_db()
    assert slot.booked == 5 == Reservation.objects.filter(slot=slot).count()
    assert slot_counter_mismatches() == []


def test_it_books_one_dose_once_under_double_submission(world: World, now: dt.datetime) -> None:
    ticket = world.resident()
    slots = [world.slot(D(2026, 11, 10), hour) for hour in range(9, 17)]

    def book(slot: Any) -> Reservation | AlreadyBooked:
        try:
            return reservation_book(
                ticket=ticket, slot=slot, requester=world.web, dose_number=1, now=now
            )
        except AlreadyBooked as refusal:
            return refusal

    results = race([(lambda s=s: book(s)) for s in slots])
    assert Counter(outcome(r) for r in results) == {"booked": 1, "already_booked": 7}
    assert Reservation.objects.filter(resident=ticket.resident).count() == 1
    # Each loser names the winner, whether its own check saw it or the database refused it.
    (winner,) = [r for r in results if isinstance(r, Reservation)]
    assert {r.existing_code for r in results if isinstance(r, AlreadyBooked)} == {winner.code}
    assert slot_counter_mismatches() == []


def test_it_returns_the_same_reservation_for_the_same_key(world: World, now: dt.datetime) -> None:
    ticket, slot = world.resident(), world.slot(D(2026, 11, 10))
    results = race(
        [
            (
                lambda: reservation_book(
                    ticket=ticket,
                    slot=slot,
                    requester=world.web,
                    idempotency_key="double-click",
                    now=now,
                )
            )
            for _i in range(10)
        ]
    )
    assert {r.pk for r in results if isinstance(r, Reservation)} == {Reservation.objects.get().pk}
    assert all(isinstance(r, Reservation) for r in results), results
    slot.refresh_from_db()
    assert slot.booked == 1


def test_it_decides_again_when_the_lock_holder_changed_the_history(
    world: World, now: dt.datetime
) -> None:
    # The booking reads its history in the statement that waits for the resident's lock, so
    # under READ COMMITTED it sees that history as it was before the lock holder committed: here
    # without the dose the venue is recording. The write must notice and decide again.
    ticket, slot = world.resident(), world.slot(D(2026, 11, 10))
    recording = threading.Event()
    venue_error: list[BaseException] = []

    def venue() -> None:
        try:
            with transaction.atomic():
                vaccination_record(
                    resident=ticket.resident,
                    vaccine=world.vaccine,
                    campaign=world.campaign,
                    vaccinated_on=dt.date(2026, 11, 1),
                    requester=world.phone(),
                    now=now,
                )
                recording.set()
                _wait_for_a_lock_waiter()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            venue_error.append(error)
            recording.set()
        finally:
            connection.close()

    thread = threading.Thread(target=venue)
    thread.start()
    assert recording.wait(30)
    with pytest.raises(NotEligible):
        reservation_book(ticket=ticket, slot=slot, requester=world.web, now=now)
    thread.join(30)
    assert venue_error == []
    assert not Reservation.objects.filter(resident=ticket.resident).exists()
    assert slot_counter_mismatches() == []


def _wait_for_a_lock_waiter() -> None:
    with connection.cursor() as cursor:
        for _attempt in range(300):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the booking never waited for the resident's lock")


def naive_book(ticket: Ticket, slot_id: int, *, use_counter: bool) -> str:
    """The 2021 bug: check, then write. Never do this."""
    with transaction.atomic():
        slot = Slot.objects.get(pk=slot_id)
        taken = slot.booked if use_counter else Reservation.objects.filter(slot=slot).count()
        if taken >= slot.capacity:
            return "slot_full"
        time.sleep(0.2)  # the gap between check and write that real request handling has
        if use_counter:
            Slot.objects.filter(pk=slot_id).update(booked=F("booked") + 1)
        Reservation.objects.create(
            code=f"{ticket.pk:09d}",
            resident_id=ticket.resident_id,
            ticket=ticket,
            slot=slot,
            campaign=slot.operating_day.campaign,
            vaccine=slot.operating_day.vaccine,
            dose_number=1,
            status="confirmed",
            channel="web",
            entered_by="resident",
        )
    return "booked"


def test_it_catches_the_naive_control_overbooking(world: World) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=5)
    tickets = [world.resident() for _i in range(30)]
    results = race([(lambda t=t: naive_book(t, slot.pk, use_counter=False)) for t in tickets])
    booked_rows = Reservation.objects.filter(slot=slot).count()
    assert results.count("booked") == booked_rows
    assert booked_rows > slot.capacity  # the harness does see races


def test_it_stops_a_naive_counter_at_the_check_constraint(world: World) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=5)
    tickets = [world.resident() for _i in range(30)]
    results = race([(lambda t=t: naive_book(t, slot.pk, use_counter=True)) for t in tickets])
    slot.refresh_from_db()
    assert results.count("booked") == slot.booked == 5
    assert Reservation.objects.filter(slot=slot).count() == 5
    assert any("booked_within_capacity" in str(r) for r in results)
