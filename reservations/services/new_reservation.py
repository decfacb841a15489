"""A new reservation row: built unsaved with a fresh 予約番号 (`reservation_new`), and inserted
while drawing another number whenever the drawn one is taken (`reservation_insert_new_code`).
The booking verbs and the series pairing both make rows this way."""

from __future__ import annotations

import datetime as dt

from reservations.identifiers import reservation_code_generate
from reservations.models import Reservation, Slot, Ticket
from reservations.rules.engine import Decision
from reservations.services.booking_sql import reservation_insert
from reservations.services.requester import Requester

# Draws of a new 予約番号 before giving up; with 10^8 codes, 20 collisions in a row mean a bug.
CODE_ATTEMPTS = 20


def reservation_code_free() -> str:
    """A 予約番号 no reservation has now."""
    # 10^8 codes; a collision is rare enough that checking first is fine, and the unique
    # constraint still catches the impossible race.
    for _attempt in range(CODE_ATTEMPTS):
        code = reservation_code_generate()
        if not Reservation.objects.filter(code=code).exists():
            return code
    raise RuntimeError("could not find a free reservation code")


def reservation_insert_new_code(reservation: Reservation, *, redraw: bool = False) -> None:
    """INSERT, drawing a new 予約番号 while the current one is taken (the unique column decides,
    so there is no check-then-insert race and no extra statement). `redraw`: the current one is
    known to be taken already, so draw before the first try."""
    if redraw:
        reservation.code = reservation_code_generate()
    for _attempt in range(CODE_ATTEMPTS):
        if reservation_insert(reservation):
            return
        reservation.code = reservation_code_generate()
    raise RuntimeError("could not find a free reservation code")


def reservation_new(
    *,
    ticket: Ticket,
    slot: Slot,
    dose_number: int,
    status: str,
    held_until: dt.datetime | None,
    requester: Requester,
    staff_seat: bool,
    decision: Decision,
    override_reason: str,
    idempotency_key: str | None,
) -> Reservation:
    """An unsaved reservation with a fresh 予約番号."""
    day = slot.operating_day
    return Reservation(
        code=reservation_code_generate(),
        resident_id=ticket.resident_id,
        ticket=ticket,
        slot=slot,
        campaign=day.campaign,
        vaccine=day.vaccine,
        dose_number=dose_number,
        status=status,
        held_until=held_until,
        channel=requester.channel,
        entered_by=requester.actor,
        proxy_relationship=requester.proxy_relationship,
        entered_by_user=requester.staff_user,
        staff_seat=staff_seat,
        idempotency_key=idempotency_key,
        override_reason=override_reason,
        rules_applied=decision.rules_applied,
        warnings=decision.warnings,
    )
