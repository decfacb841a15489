"""The booking hot path's hand-written statements (services/booking_sql.py): the rows they
write are the rows the ORM would write, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DataError, connection, transaction

from reservations.models import Reservation, ReservationEvent, Slot
from reservations.services import new_reservation
from reservations.services.booking import (
    Requester,
    reservation_book,
    reservation_cancel,
    reservation_hold,
    reservation_release_expired_holds,
)
from reservations.services.booking_sql import booking_context, history_read
from reservations.services.reminders import reminders_record_due
from reservations.services.vaccinations import vaccination_record
from reservations.signals import events_recorded
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def codes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make reservation_code_generate hand out these codes first, in order."""
    queue: list[str] = []
    real = new_reservation.reservation_code_generate

    def next_code(*args: Any) -> str:
        return queue.pop(0) if queue else real(*args)

    monkeypatch.setattr(new_reservation, "reservation_code_generate", next_code)
    yield queue


def test_a_taken_code_is_drawn_again_with_one_seat_and_one_event(
    world: World, now: dt.datetime, codes: list[str]
) -> None:
    slot = world.slot(D(2026, 11, 10))
    first = reservation_book(
        ticket=world.resident(), slot=slot, requester=world.web, book_next_dose=False, now=now
    )
    # The next booking draws the first one's code, then a free one.
    codes.extend([first.code, "123456782"])
    second = reservation_book(
        ticket=world.resident(name="日南 次郎"),
        slot=slot,
        requester=world.web,
        book_next_dose=False,
        now=now,
    )
    assert second.code == "123456782"
    slot.refresh_from_db()
    assert slot.booked == 2
    assert Reservation.objects.filter(slot=slot).count() == 2
    assert list(second.events.values_list("kind", flat=True)) == ["booked"]
    assert ReservationEvent.objects.filter(reservation__slot=slot).count() == 2


def test_the_rows_read_back_equal_what_the_service_returned(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    held = reservation_hold(
        ticket=world.resident(),
        slot=slot,
        requester=Requester(channel="web", proxy_relationship="長男"),
        book_next_dose=False,
        now=now,
    )
    stored = Reservation.objects.get(pk=held.pk)
    for field in Reservation._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(held, field.attname), field.name
    event = held.events.get()
    assert event.data == {"slot": slot.pk, "dose_number": 1}
    # What the service returns carries its slot, day, site, vaccine and campaign.
    assert held.slot.operating_day.site.name == stored.slot.operating_day.site.name
    assert held.campaign.program_id == stored.campaign.program_id


def test_the_core_announces_every_event_it_writes_on_every_path(
    world: World, now: dt.datetime
) -> None:
    # The outbox's doorbell (reservations.signals.events_recorded), whichever path wrote the
    # row: the booking statement (seat, reservation and event at once), an event of its own
    # (pairing, cancelling, a hold running out), and the reminder scan's bulk insert.
    heard: list[tuple[str, bool]] = []

    def listen(sender: Any, events: list[ReservationEvent], **kwargs: Any) -> None:
        heard.extend((event.kind, event.pk is not None) for event in events)

    events_recorded.connect(listen, dispatch_uid="test-heard")
    try:
        booked = reservation_book(
            ticket=world.resident(),
            slot=world.slot(D(2026, 11, 10)),
            requester=world.web,
            book_next_dose=False,
            now=now,
        )
        reservation_cancel(reservation=booked, requester=world.web, now=now)
        held = reservation_hold(
            ticket=world.resident(), slot=world.slot(D(2026, 11, 3)), requester=world.web, now=now
        )
        reservation_release_expired_holds(now=now + dt.timedelta(hours=1))
        reservation_book(
            ticket=world.resident(), slot=world.slot(D(2026, 11, 4)), requester=world.web, now=now
        )
        reminders_record_due(remind_at=dt.time(10, 0), now=jst(2026, 11, 3, 10, 0))
    finally:
        events_recorded.disconnect(dispatch_uid="test-heard")
    kinds = ReservationEvent.Kind
    assert heard == [
        (kinds.BOOKED, True),
        (kinds.CANCELLED, True),
        (kinds.HELD, True),
        (kinds.HOLD_EXPIRED, True),
        (kinds.BOOKED, True),
        (kinds.REMINDER_DUE, True),
    ]
    assert held.pk is not None
    assert ReservationEvent.objects.count() == len(heard)


def test_the_history_locked_with_the_slot_is_the_history_read_alone(
    world: World, now: dt.datetime
) -> None:
    # On PostgreSQL the first comes as JSON with the lock, the second as rows.
    ticket = world.resident()
    vaccination_record(
        resident=ticket.resident,
        vaccine=world.vaccine,
        vaccinated_on=D(2025, 10, 20),
        requester=world.phone(),
        now=now,
    )
    held = reservation_hold(
        ticket=ticket,
        slot=world.slot(D(2026, 11, 10)),
        requester=world.web,
        book_next_dose=False,
        now=now,
    )
    with transaction.atomic():
        _slot, _resident, locked = booking_context(
            world.slot(D(2026, 11, 11)).pk, ticket.resident_id
        )
        alone = history_read(ticket.resident_id)
    assert (locked.active, locked.doses) == (alone.active, alone.doses)
    assert [(b.code, b.held_until) for b in locked.active] == [(held.code, held.held_until)]
    assert [(d.on, d.planned) for d in locked.doses] == [
        (D(2025, 10, 20), False),
        (D(2026, 11, 10), True),
    ]
    assert alone.seen is None


@pytest.mark.postgres
def test_an_over_long_value_is_refused_not_cut_short(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    with pytest.raises(DataError):
        reservation_book(
            ticket=world.resident(),
            slot=slot,
            requester=Requester(channel="web", proxy_relationship="続" * 31),
            now=now,
        )
    slot.refresh_from_db()
    assert (slot.booked, Reservation.objects.count()) == (0, 0)


@pytest.mark.postgres
def test_postgresql_keeps_the_booking_statements_prepared(world: World, now: dt.datetime) -> None:
    # Without prepared statements PostgreSQL plans every statement of every booking again,
    # which cost more than running them (docs/benchmarks.md).
    slot = world.slot(D(2026, 11, 10), capacity=20)
    for n in range(7):
        reservation_book(
            ticket=world.resident(name=f"日南 {n}"),
            slot=slot,
            requester=world.web,
            book_next_dose=False,
            now=now,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(s.startswith("WITH fresh AS") for s in prepared), prepared
    assert any(Slot._meta.db_table in s and "FOR UPDATE" in s for s in prepared), prepared
