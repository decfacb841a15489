"""Hypothesis drives random holds, bookings, confirms, changes, cancels and expiries through the
services, from every kind of channel, and checks the booking invariants after every step."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.db.models import Count, Q
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from reservations.exceptions import ReservationError
from reservations.models import STAFF_CHANNELS, Channel, Reservation, ReservationEvent, Slot
from reservations.selectors import slot_counter_mismatches
from reservations.services.booking import (
    Requester,
    reservation_book,
    reservation_cancel,
    reservation_change,
    reservation_confirm,
    reservation_hold,
)
from tests.world import World, jst

CHANNELS = [Channel.WEB, Channel.LINE, Channel.API, Channel.PHONE]


@pytest.mark.django_db
def test_it_keeps_the_invariants_under_random_operations(world: World) -> None:
    class Booking(RuleBasedStateMachine):
        @initialize(
            capacities=st.lists(st.integers(0, 3), min_size=3, max_size=3),
            reserves=st.lists(st.integers(0, 2), min_size=3, max_size=3),
        )
        def set_up(self, capacities: list[int], reserves: list[int]) -> None:
            self.now = jst(2026, 11, 2, 9)
            # Each example starts from empty slots; rows of earlier examples go first.
            ReservationEvent.objects.all().delete()
            Reservation.objects.all().delete()
            Slot.objects.all().delete()
            self.slots = [
                world.slot(dt.date(2026, 11, 10 + i), capacity=c, reserved=min(r, c))
                for i, (c, r) in enumerate(zip(capacities, reserves, strict=True))
            ]
            self.tickets = [world.resident() for _i in range(4)]

        def requester(self, channel: str) -> Requester:
            return world.phone() if channel in STAFF_CHANNELS else Requester(channel=channel)

        def pick(self, index: int) -> Reservation | None:
            rows = list(Reservation.objects.order_by("pk"))
            return rows[index % len(rows)] if rows else None

        @rule(
            person=st.integers(0, 3),
            slot=st.integers(0, 2),
            channel=st.sampled_from(CHANNELS),
            hold=st.booleans(),
        )
        def book(self, person: int, slot: int, channel: str, hold: bool) -> None:
            action = reservation_hold if hold else reservation_book
            with contextlib.suppress(ReservationError):
                action(
                    ticket=self.tickets[person],
                    slot=self.slots[slot],
                    requester=self.requester(channel),
                    now=self.now,
                )

        @rule(index=st.integers(0, 20), channel=st.sampled_from(CHANNELS))
        def confirm(self, index: int, channel: str) -> None:
            reservation = self.pick(index)
            if reservation is not None:
                with contextlib.suppress(ReservationError):
                    reservation_confirm(
                        reservation=reservation, requester=self.requester(channel), now=self.now
                    )

        @rule(index=st.integers(0, 20), slot=st.integers(0, 2), channel=st.sampled_from(CHANNELS))
        def change(self, index: int, slot: int, channel: str) -> None:
            reservation = self.pick(index)
            if reservation is not None:
                with contextlib.suppress(ReservationError):
                    reservation_change(
                        reservation=reservation,
                        slot=self.slots[slot],
                        requester=self.requester(channel),
                        now=self.now,
                    )

        @rule(index=st.integers(0, 20), channel=st.sampled_from(CHANNELS))
        def cancel(self, index: int, channel: str) -> None:
            reservation = self.pick(index)
            if reservation is not None:
                with contextlib.suppress(ReservationError):
                    reservation_cancel(
                        reservation=reservation, requester=self.requester(channel), now=self.now
                    )

        @rule(minutes=st.integers(1, 15))
        def time_passes(self, minutes: int) -> None:
            self.now += dt.timedelta(minutes=minutes)

        @invariant()
        def counters_match_rows(self) -> None:
            if hasattr(self, "slots"):
                assert slot_counter_mismatches() == []

        @invariant()
        def capacity_holds(self) -> None:
            for slot in Slot.objects.all():
                assert 0 <= slot.booked_staff <= slot.booked <= slot.capacity
                public = slot.reservations.exclude(status="cancelled").filter(staff_seat=False)
                # Public seats never exceed what the reserve leaves them.
                assert public.count() <= slot.capacity - min(slot.phone_reserved, slot.capacity)

        @invariant()
        def one_active_booking_per_dose(self) -> None:
            duplicates = (
                Reservation.objects.filter(status__in=Reservation.ACTIVE_STATUSES)
                .values("resident", "campaign", "dose_number")
                .annotate(n=Count("pk"))
                .filter(Q(n__gt=1))
            )
            assert not duplicates.exists()

        @invariant()
        def every_reservation_has_its_events(self) -> None:
            assert not Reservation.objects.filter(events__isnull=True).exists()

    run_state_machine_as_test(
        Booking,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
