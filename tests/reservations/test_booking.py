"""Booking services: holds, series, quotas, windows, changes, cancellations, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from reservations.exceptions import (
    AlreadyBooked,
    ChangeDeadlinePassed,
    CredentialsInvalid,
    HoldExpired,
    IdempotencyKeyReused,
    InvalidStateTransition,
    NotEligible,
    OutsideBookingWindow,
    PermissionDenied,
    SecondDoseUnavailable,
    SlotFull,
    VaccinationInvalid,
)
from reservations.models import (
    Campaign,
    Channel,
    Reservation,
    ReservationEvent,
    Slot,
    Ticket,
    Vaccination,
)
from reservations.selectors import slot_counter_mismatches, slot_list_available
from reservations.services.booking import (
    Requester,
    reservation_book,
    reservation_cancel,
    reservation_change,
    reservation_confirm,
    reservation_hold,
    reservation_mark_no_show,
)
from reservations.services.vaccinations import vaccination_record
from tests.world import World, jst

D = dt.date
pytestmark = pytest.mark.django_db


def counters(slot: Slot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.booked, slot.booked_staff


def assert_consistent() -> None:
    assert slot_counter_mismatches() == []


# --- holds ----------------------------------------------------------------------------------


def test_it_holds_then_confirms(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    ticket = world.resident()
    held = reservation_hold(ticket=ticket, slot=slot, requester=world.web, now=now)
    assert held.status == Reservation.Status.HELD
    assert held.held_until == now + dt.timedelta(minutes=10)
    assert counters(slot) == (1, 0)
    confirmed = reservation_confirm(reservation=held, requester=world.web, now=now)
    assert confirmed.status == Reservation.Status.CONFIRMED
    assert list(held.events.values_list("kind", flat=True)) == ["held", "booked"]
    # Confirming twice (a double click) changes nothing.
    reservation_confirm(reservation=held, requester=world.web, now=now)
    assert held.events.count() == 2
    assert_consistent()


def test_it_releases_expired_holds_without_a_background_job(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=1)
    first, second = world.resident(), world.resident(name="日南 太郎")
    held = reservation_hold(ticket=first, slot=slot, requester=world.web, now=now)
    with pytest.raises(SlotFull):
        reservation_hold(ticket=second, slot=slot, requester=world.web, now=now)
    later = now + dt.timedelta(minutes=11)
    available = slot_list_available(
        resident=second.resident, date_from=D(2026, 11, 10), date_to=D(2026, 11, 10), now=later
    )
    assert [a.seats_left for a in available] == [1]
    taken = reservation_hold(ticket=second, slot=slot, requester=world.web, now=later)
    assert taken.status == Reservation.Status.HELD
    held.refresh_from_db()
    assert held.status == Reservation.Status.CANCELLED
    assert held.cancel_reason == Reservation.CancelReason.HOLD_EXPIRED
    assert counters(slot) == (1, 0)
    with pytest.raises(HoldExpired):
        reservation_confirm(reservation=held, requester=world.web, now=later)
    assert_consistent()


def test_it_refuses_to_confirm_a_hold_that_ran_out(world: World, now: dt.datetime) -> None:
    held = reservation_hold(
        ticket=world.resident(), slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    with pytest.raises(HoldExpired):
        reservation_confirm(
            reservation=held, requester=world.web, now=now + dt.timedelta(minutes=10)
        )


# --- series (セット予約) ----------------------------------------------------------------------


@pytest.fixture
def primary(world: World) -> World:
    world.campaign = Campaign.objects.get(code="covid-2021-primary")
    return world


NOW_2021 = jst(2021, 6, 1, 9)


def test_it_books_the_second_dose_at_the_standard_interval(primary: World) -> None:
    first_slot = primary.slot(D(2021, 6, 10), 10)
    standard = primary.slot(D(2021, 7, 1), 10)  # 20日の間隔 → same weekday 3 weeks later
    primary.slot(D(2021, 7, 1), 11)
    ticket = primary.resident(D(1950, 1, 1))
    first = reservation_hold(ticket=ticket, slot=first_slot, requester=primary.web, now=NOW_2021)
    assert first.next_dose is not None
    assert first.next_dose.slot == standard
    assert first.next_dose.dose_number == 2
    assert first.next_dose.status == Reservation.Status.HELD
    reservation_confirm(reservation=first, requester=primary.web, now=NOW_2021)
    first.next_dose.refresh_from_db()
    assert first.next_dose.status == Reservation.Status.CONFIRMED
    assert_consistent()


def test_it_takes_the_nearest_seat_when_the_standard_one_is_full(primary: World) -> None:
    first_slot = primary.slot(D(2021, 6, 10), 10)
    primary.slot(D(2021, 7, 1), 10, capacity=0)
    nearest = primary.slot(D(2021, 7, 1), 11)
    primary.slot(D(2021, 7, 5), 10)
    first = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)), slot=first_slot, requester=primary.web, now=NOW_2021
    )
    assert first.next_dose is not None and first.next_dose.slot == nearest


def test_it_books_nothing_when_no_second_dose_seat_exists(primary: World) -> None:
    first_slot = primary.slot(D(2021, 6, 10), 10)
    with pytest.raises(SecondDoseUnavailable):
        reservation_book(
            ticket=primary.resident(D(1950, 1, 1)),
            slot=first_slot,
            requester=primary.web,
            now=NOW_2021,
        )
    assert counters(first_slot) == (0, 0)
    assert not Reservation.objects.exists()
    # Dose 1 alone, when the caller asks for it.
    alone = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)),
        slot=first_slot,
        requester=primary.web,
        book_next_dose=False,
        now=NOW_2021,
    )
    assert alone.next_dose is None


def test_it_cancels_the_paired_dose_with_the_first(primary: World) -> None:
    first_slot, second_slot = primary.slot(D(2021, 6, 10)), primary.slot(D(2021, 7, 1))
    first = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)), slot=first_slot, requester=primary.web, now=NOW_2021
    )
    second = first.next_dose
    assert second is not None
    with pytest.raises(InvalidStateTransition):  # web cannot cancel dose 2 alone
        reservation_cancel(reservation=second, requester=primary.web, now=NOW_2021)
    reservation_cancel(reservation=first, requester=primary.web, now=NOW_2021)
    second.refresh_from_db()
    assert second.status == Reservation.Status.CANCELLED
    assert second.cancel_reason == Reservation.CancelReason.SERIES_CANCELLED
    assert counters(first_slot) == (0, 0) and counters(second_slot) == (0, 0)
    # A cancelled reservation stays cancelled.
    again = reservation_cancel(reservation=first, requester=primary.web, now=NOW_2021)
    assert again.status == Reservation.Status.CANCELLED
    with pytest.raises(InvalidStateTransition):
        reservation_confirm(reservation=first, requester=primary.web, now=NOW_2021)
    assert_consistent()


def test_it_lets_an_operator_cancel_dose_two_alone(primary: World) -> None:
    primary.slot(D(2021, 7, 1))
    first = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)),
        slot=primary.slot(D(2021, 6, 10)),
        requester=primary.web,
        now=NOW_2021,
    )
    assert first.next_dose is not None
    reservation_cancel(reservation=first.next_dose, requester=primary.phone(), now=NOW_2021)
    first.refresh_from_db()
    assert first.status == Reservation.Status.CONFIRMED


def test_it_moves_dose_two_when_dose_one_moves_past_the_interval(primary: World) -> None:
    first_slot = primary.slot(D(2021, 6, 10))
    second_slot = primary.slot(D(2021, 7, 1))
    later_first = primary.slot(D(2021, 6, 17))
    later_second = primary.slot(D(2021, 7, 8))
    first = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)), slot=first_slot, requester=primary.web, now=NOW_2021
    )
    assert first.next_dose is not None and first.next_dose.slot == second_slot
    # Moving dose 1 a week later still leaves 7/1 at 13 days: below the 18-day minimum.
    moved = reservation_change(
        reservation=first, slot=later_first, requester=primary.web, now=NOW_2021
    )
    assert moved.slot == later_first
    assert moved.next_dose is not None and moved.next_dose.slot == later_second
    assert counters(second_slot) == (0, 0)
    assert_consistent()


# --- channels, quotas and windows -----------------------------------------------------------


def test_it_keeps_the_phone_reserve_from_public_channels(world: World, now: dt.datetime) -> None:
    # domain.md §9 scenario 17: capacity 6, 3 reserved for the phone.
    slot = world.slot(D(2026, 11, 10), capacity=6, reserved=3, release_hours=24)
    for _i in range(3):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    with pytest.raises(SlotFull):
        reservation_book(
            ticket=world.resident(), slot=slot, requester=Requester(channel=Channel.LINE), now=now
        )
    available = slot_list_available(
        resident=world.resident().resident,
        date_from=D(2026, 11, 10),
        date_to=D(2026, 11, 10),
        now=now,
    )
    assert [(a.seats_left, a.mark) for a in available] == [(0, "×")]
    for _i in range(3):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.phone(), now=now)
    assert counters(slot) == (6, 3)
    with pytest.raises(SlotFull):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.phone(), now=now)
    assert_consistent()


def test_it_opens_the_reserve_to_everyone_after_the_release_time(
    world: World, now: dt.datetime
) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=2, reserved=2, release_hours=24)
    with pytest.raises(SlotFull):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    after_release = jst(2026, 11, 9, 10, 0)
    reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=after_release)
    assert counters(slot) == (1, 0)


def test_it_lets_phone_bookings_beyond_the_reserve_eat_public_seats(
    world: World, now: dt.datetime
) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=4, reserved=1)
    for _i in range(3):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.phone(), now=now)
    reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)
    with pytest.raises(SlotFull):
        reservation_book(ticket=world.resident(), slot=slot, requester=world.web, now=now)


def test_it_refuses_staff_channels_without_permission(world: World, now: dt.datetime) -> None:
    with pytest.raises(PermissionDenied):
        reservation_book(
            ticket=world.resident(),
            slot=world.slot(D(2026, 11, 10)),
            requester=Requester(channel=Channel.PHONE),
            now=now,
        )


def test_it_enforces_the_booking_window(primary: World) -> None:
    # domain.md §9 scenario 18: the 6/11 session closes 9 days before.
    slot = primary.slot(D(2021, 6, 11), closes=9, opens=120)
    ticket = primary.resident(D(1950, 1, 1))
    ok = reservation_book(
        ticket=ticket,
        slot=slot,
        requester=primary.web,
        book_next_dose=False,
        now=jst(2021, 6, 2, 23, 59),
    )
    reservation_cancel(reservation=ok, requester=primary.phone(), now=jst(2021, 6, 2, 23, 59))
    with pytest.raises(OutsideBookingWindow) as late:
        reservation_book(
            ticket=ticket,
            slot=slot,
            requester=primary.web,
            book_next_dose=False,
            now=jst(2021, 6, 3, 0, 1),
        )
    assert late.value.detail["closed_after"] == "2021-06-02"
    with pytest.raises(OutsideBookingWindow):
        reservation_book(
            ticket=ticket,
            slot=slot,
            requester=primary.phone(),
            book_next_dose=False,
            now=jst(2021, 6, 3, 9),
            override_reason="医師判断",
        )
    primary.operator.user_permissions.add(
        Permission.objects.get(codename="override_booking_window")
    )
    operator = primary.phone()
    operator = Requester(
        channel=operator.channel,
        actor=operator.actor,
        user=type(primary.operator).objects.get(pk=primary.operator.pk),
    )
    booked = reservation_book(
        ticket=ticket,
        slot=slot,
        requester=operator,
        book_next_dose=False,
        now=jst(2021, 6, 3, 9),
        override_reason="市の判断で受付",
    )
    event = booked.events.get()
    assert event.data["window_override"] == "市の判断で受付"
    assert event.actor_user == primary.operator


def test_it_refuses_web_cancellation_after_the_deadline(primary: World) -> None:
    # domain.md §9 scenario 19: the day before, web cancellation goes to the call centre.
    slot = primary.slot(D(2021, 6, 11), change_closes=2)
    booked = reservation_book(
        ticket=primary.resident(D(1950, 1, 1)),
        slot=slot,
        requester=primary.web,
        book_next_dose=False,
        now=NOW_2021,
    )
    with pytest.raises(ChangeDeadlinePassed):
        reservation_cancel(reservation=booked, requester=primary.web, now=jst(2021, 6, 10, 9))
    cancelled = reservation_cancel(
        reservation=booked, requester=primary.phone(), now=jst(2021, 6, 10, 9)
    )
    assert cancelled.cancel_reason == Reservation.CancelReason.BY_OPERATOR
    assert counters(slot) == (0, 0)


def test_it_rejects_a_duplicate_booking_across_channels(world: World, now: dt.datetime) -> None:
    # domain.md §9 scenario 15.
    ticket = world.resident()
    first = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    for requester in (Requester(channel=Channel.LINE), world.phone()):
        with pytest.raises(AlreadyBooked) as duplicate:
            reservation_book(
                ticket=ticket,
                slot=world.slot(D(2026, 11, 11)),
                requester=requester,
                dose_number=1,
                now=now,
            )
        assert duplicate.value.existing_code == first.code
    # Without an explicit dose number the next one would be the routine season's second dose,
    # which no one can have; but the resident is booking again, and what they need to hear is
    # the booking they hold (issue 17: the API's 409 already_booked).
    with pytest.raises(AlreadyBooked) as again:
        reservation_book(
            ticket=ticket, slot=world.slot(D(2026, 11, 11)), requester=world.web, now=now
        )
    assert again.value.existing_code == first.code
    assert first.code in str(again.value.message)


def test_a_season_used_up_by_a_dose_given_is_the_rules_refusal(
    world: World, now: dt.datetime
) -> None:
    ticket = world.resident()
    first = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    Reservation.objects.filter(pk=first.pk).update(status=Reservation.Status.VACCINATED)
    Vaccination.objects.create(
        resident=ticket.resident,
        reservation=first,
        ticket=ticket,
        campaign=first.campaign,
        vaccine=first.vaccine,
        antigen=first.vaccine.antigen,
        dose_number=1,
        vaccinated_on=D(2026, 10, 30),
    )
    # Nothing is held any more: the one-per-season rule speaks, as before.
    with pytest.raises(NotEligible):
        reservation_book(
            ticket=ticket, slot=world.slot(D(2026, 11, 11)), requester=world.web, now=now
        )


def test_it_refuses_a_void_ticket(world: World, now: dt.datetime) -> None:
    ticket = world.resident()
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.VOID)
    ticket.refresh_from_db()
    with pytest.raises(CredentialsInvalid):
        reservation_book(
            ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
        )


def test_it_replays_an_idempotent_request(world: World, now: dt.datetime) -> None:
    ticket, slot = world.resident(), world.slot(D(2026, 11, 10))
    first = reservation_book(
        ticket=ticket, slot=slot, requester=world.web, idempotency_key="req-1", now=now
    )
    again = reservation_book(
        ticket=ticket, slot=slot, requester=world.web, idempotency_key="req-1", now=now
    )
    assert again.pk == first.pk
    assert counters(slot) == (1, 0)
    with pytest.raises(IdempotencyKeyReused):
        reservation_book(
            ticket=ticket,
            slot=world.slot(D(2026, 11, 11)),
            requester=world.web,
            idempotency_key="req-1",
            now=now,
        )


# --- change ---------------------------------------------------------------------------------


def test_it_changes_atomically(world: World, now: dt.datetime) -> None:
    old, full, free = (
        world.slot(D(2026, 11, 10)),
        world.slot(D(2026, 11, 11), capacity=0),
        world.slot(D(2026, 11, 12)),
    )
    booked = reservation_book(ticket=world.resident(), slot=old, requester=world.web, now=now)
    with pytest.raises(SlotFull):
        reservation_change(reservation=booked, slot=full, requester=world.web, now=now)
    booked.refresh_from_db()
    assert booked.slot == old and counters(old) == (1, 0)
    code = booked.code
    moved = reservation_change(reservation=booked, slot=free, requester=world.web, now=now)
    assert moved.slot == free and moved.code == code
    assert counters(old) == (0, 0) and counters(free) == (1, 0)
    event = moved.events.get(kind=ReservationEvent.Kind.CHANGED)
    assert event.data["from_slot"] == old.pk and event.data["to_slot"] == free.pk
    assert_consistent()


def test_it_issues_a_new_code_on_change_when_the_site_says_so(
    world: World, now: dt.datetime
) -> None:
    world.site.new_code_on_change = True
    world.site.save()
    booked = reservation_book(
        ticket=world.resident(), slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    moved = reservation_change(
        reservation=booked, slot=world.slot(D(2026, 11, 12)), requester=world.web, now=now
    )
    assert moved.code != booked.code
    assert moved.events.get(kind="changed").data["old_code"] == booked.code


# --- the day itself ---------------------------------------------------------------------------


def test_it_records_a_vaccination_and_closes_the_booking(world: World, now: dt.datetime) -> None:
    slot = world.slot(D(2026, 11, 10))
    ticket = world.resident()
    booked = reservation_book(ticket=ticket, slot=slot, requester=world.web, now=now)
    on_the_day = jst(2026, 11, 10, 10, 5)
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=ticket.resident,
            vaccine=world.vaccine,
            vaccinated_on=D(2026, 11, 11),
            requester=world.phone(),
            reservation=booked,
            now=on_the_day,
        )
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=ticket.resident,
            vaccine=world.vaccine,
            vaccinated_on=D(2026, 11, 10),
            requester=world.phone(),
            reservation=booked,
            dose_number=3,
            now=on_the_day,
        )
    record = vaccination_record(
        resident=ticket.resident,
        vaccine=world.vaccine,
        vaccinated_on=D(2026, 11, 10),
        requester=world.phone(),
        reservation=booked,
        lot_number="FF3620",
        now=on_the_day,
    )
    assert record.dose_number == 1 and record.campaign == world.campaign
    booked.refresh_from_db()
    assert booked.status == Reservation.Status.VACCINATED
    assert counters(slot) == (1, 0)  # a used seat stays counted
    assert Vaccination.objects.get().counts_as_dose
    assert_consistent()


def test_it_refuses_a_dose_dated_before_the_previous_one(world: World, now: dt.datetime) -> None:
    ticket = world.resident()
    vaccination_record(
        resident=ticket.resident,
        vaccine=world.vaccine,
        vaccinated_on=D(2026, 10, 20),
        requester=world.phone(),
        now=now,
    )
    with pytest.raises(VaccinationInvalid):
        vaccination_record(
            resident=ticket.resident,
            vaccine=world.vaccine,
            vaccinated_on=D(2026, 10, 1),
            requester=world.phone(),
            now=now,
        )


def test_it_marks_no_show_only_after_the_slot(world: World, now: dt.datetime) -> None:
    booked = reservation_book(
        ticket=world.resident(), slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    with pytest.raises(InvalidStateTransition):
        reservation_mark_no_show(reservation=booked, requester=world.phone(), now=now)
    marked = reservation_mark_no_show(
        reservation=booked, requester=world.phone(), now=jst(2026, 11, 10, 17)
    )
    assert marked.status == Reservation.Status.NO_SHOW
    assert_consistent()


def test_it_writes_an_event_for_every_change(world: World, now: dt.datetime) -> None:
    ticket = world.resident()
    held = reservation_hold(
        ticket=ticket, slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    reservation_confirm(reservation=held, requester=world.web, now=now)
    reservation_change(
        reservation=held, slot=world.slot(D(2026, 11, 12)), requester=world.web, now=now
    )
    reservation_cancel(reservation=held, requester=world.web, now=now)
    assert list(ReservationEvent.objects.values_list("kind", flat=True)) == [
        "held",
        "booked",
        "changed",
        "cancelled",
    ]
    with pytest.raises(TypeError):
        ReservationEvent.objects.first().save()  # type: ignore[union-attr]


def test_the_seat_statement_and_the_pages_agree_on_the_phone_reserve(
    world: World, now: dt.datetime
) -> None:
    # The reserve rule lives twice by necessity: Slot.seats_left for what pages show, and the
    # seat-taking UPDATE for the race. Every small combination of counters, both ways.
    from django.db import transaction

    from reservations.services import booking_sql

    slot = world.slot(D(2026, 11, 10), capacity=1, release_hours=None)
    combinations = [
        (capacity, reserved, booked, staff)
        for capacity in range(5)
        for reserved in range(capacity + 1)
        for booked in range(capacity + 1)
        for staff in range(booked + 1)
    ]
    for capacity, reserved, booked, staff in combinations:
        Slot.objects.filter(pk=slot.pk).update(
            capacity=capacity, phone_reserved=reserved, booked=booked, booked_staff=staff
        )
        slot.refresh_from_db()
        for staff_channel in (False, True):
            expected = slot.seats_left(staff=staff_channel, now=now) > 0
            with transaction.atomic():
                taken = booking_sql.seat_take(
                    slot.pk, staff=staff_channel, phone_reserve_applies=not staff_channel
                )
                transaction.set_rollback(True)
            assert taken == expected, (capacity, reserved, booked, staff, staff_channel)
