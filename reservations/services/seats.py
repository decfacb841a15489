"""Seat arithmetic: the only code that moves a slot's counters (`booked`, `booked_staff`).

A seat is taken with one conditional UPDATE on the slot counter (check and increment in one
statement, so the row lock lives for that statement only), inside the booking's short
transaction. That is correct on PostgreSQL under READ COMMITTED and on SQLite (IMMEDIATE
transactions), unlike select_for_update, which SQLite ignores; the database CHECK constraints
on the counters are the backstop. Public channels leave a slot's unused phone reserve alone
until its release time (`phone_reserve_applies`). A booking that ends gives its seat back here
(`reservation_end`, the one place that cancels a row), and so do holds that ran out, inside the
booking transactions that need the seat, so no background job has to run first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import F

from reservations.exceptions import SlotFull
from reservations.models import Actor, Reservation, ReservationEvent, Slot
from reservations.services import booking_sql
from reservations.services.booking_rows import History
from reservations.services.booking_sql import Write, booking_write, event_insert
from reservations.services.events import event_record, events_announce
from reservations.services.new_reservation import reservation_insert_new_code
from reservations.services.requester import Requester


def phone_reserve_applies(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Whether this booking must leave the slot's unused phone reserve alone."""
    return not staff and slot.phone_reserve_held(now=now)


def seat_take(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Take one seat if one is free for this kind of channel. One statement, so race-free."""
    return booking_sql.seat_take(
        slot.pk,
        staff=staff,
        phone_reserve_applies=phone_reserve_applies(slot, staff=staff, now=now),
    )


def seat_take_releasing_expired(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Take a seat; if the slot looks full, release holds in it that ran out and try once more.
    Checking expiry only on this path keeps the common booking a single UPDATE."""
    if seat_take(slot, staff=staff, now=now):
        return True
    return bool(holds_expire(now=now, slot_ids=[slot.pk])) and seat_take(slot, staff=staff, now=now)


def seat_take_or_fail(slot: Slot, *, staff: bool, now: dt.datetime) -> None:
    if not seat_take_releasing_expired(slot, staff=staff, now=now):
        raise SlotFull()


def reservation_end(
    reservation: Reservation,
    *,
    reason: str,
    requester: Requester,
    now: dt.datetime,
    **event_data: Any,
) -> None:
    """Cancel one locked row: status, seat and event together. Callers hold the row lock and
    have checked the transition; this is the one place that ends a booking."""
    reservation.status = Reservation.Status.CANCELLED
    reservation.cancel_reason = reason
    reservation.cancelled_at = now
    reservation.save(update_fields=["status", "cancel_reason", "cancelled_at", "updated_at"])
    seat_give_back(reservation)
    event_record(
        reservation,
        ReservationEvent.Kind.CANCELLED,
        requester,
        slot=reservation.slot_id,
        reason=reason,
        **event_data,
    )


def seat_give_back(reservation: Reservation) -> None:
    Slot.objects.filter(pk=reservation.slot_id).update(
        booked=F("booked") - 1,
        booked_staff=F("booked_staff") - (1 if reservation.staff_seat else 0),
    )


def seat_and_rows_write(
    reservation: Reservation, event: ReservationEvent, *, history: History, now: dt.datetime
) -> bool:
    """Take a seat in the reservation's slot and write the reservation and its event, or raise
    SlotFull. False, with nothing written, if the resident's history is no longer `history`
    (booking_sql.History). As seat_take_releasing_expired: run-out holds are released only when
    the slot looks full, so the common booking is one statement (on PostgreSQL)."""
    slot = reservation.slot
    staff = reservation.staff_seat
    holds_released = False
    while True:
        written = booking_write(
            reservation,
            event,
            staff=staff,
            phone_reserve_applies=phone_reserve_applies(slot, staff=staff, now=now),
            history=history,
        )
        if written is Write.ROWS_LEFT:
            # The seat is ours; the rows still have to be written (see booking_write).
            reservation_insert_new_code(reservation, redraw=True)
            event.reservation = reservation
            event_insert(event)
            events_announce([event])
            return True
        if written is Write.DONE:
            events_announce([event])
            return True
        if written is Write.HISTORY_CHANGED:
            return False
        if holds_released or not holds_expire(now=now, slot_ids=[slot.pk]):
            raise SlotFull()
        holds_released = True


def holds_expire(
    *, now: dt.datetime, slot_ids: Sequence[int] = (), resident_id: int | None = None
) -> int:
    """Release holds that ran out, so their seats and dose slots are free again.

    Called inside booking transactions: no background job has to run first for an expired hold
    to stop blocking anyone. Each row flips with a conditional UPDATE, so two transactions
    expiring the same hold give its seat back once.
    """
    candidates = Reservation.objects.filter(status=Reservation.Status.HELD, held_until__lte=now)
    if slot_ids:
        candidates = candidates.filter(slot_id__in=slot_ids)
    if resident_id is not None:
        candidates = candidates.filter(resident_id=resident_id)
    released = 0
    for hold in candidates.order_by("pk")[:200]:
        flipped = Reservation.objects.filter(
            pk=hold.pk, status=Reservation.Status.HELD, held_until__lte=now
        ).update(
            status=Reservation.Status.CANCELLED,
            cancel_reason=Reservation.CancelReason.HOLD_EXPIRED,
            cancelled_at=now,
            updated_at=now,
        )
        if flipped:
            seat_give_back(hold)
            event_record(
                hold,
                ReservationEvent.Kind.HOLD_EXPIRED,
                Requester(channel=hold.channel, actor=Actor.SYSTEM),
            )
            released += 1
    return released
