"""Booking writes: hold, confirm, book, change, cancel, no-show. The only code that saves
Reservation rows or moves Slot counters.

Capacity is taken with one conditional UPDATE on the slot counter (check and increment in one
statement: the row lock lives for that statement only), inside a short transaction that also
inserts the reservation and its event. That is correct on PostgreSQL under READ COMMITTED and on
SQLite (IMMEDIATE transactions), unlike select_for_update, which SQLite ignores. The database
CHECK constraints on the counters are the backstop.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.exceptions import (
    AlreadyBooked,
    BookingNotOpenYet,
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
)
from reservations.identifiers import reservation_code_generate
from reservations.models import (
    STAFF_CHANNELS,
    Actor,
    Channel,
    Reservation,
    ReservationEvent,
    Resident,
    Slot,
    Ticket,
)
from reservations.rules.engine import Decision, HistoryDose, check_dose, standard_next_date
from reservations.selectors import (
    dose_history,
    next_dose_number,
    person_for,
    planned_dose,
    rulebook_for,
)
from reservations.services.booking_sql import (
    History,
    Write,
    booking_context,
    booking_write,
    event_insert,
    history_read,
    reservation_insert,
    seat_take,
    slot_with_day,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

logger = logging.getLogger(__name__)

# How far around the standard date to look for a seat for the paired dose.
PAIRING_SEARCH_DAYS_BEFORE = 7
PAIRING_SEARCH_DAYS_AFTER = 28
# Draws of a new 予約番号 before giving up; with 10^8 codes, 20 collisions in a row mean a bug.
CODE_ATTEMPTS = 20


@dataclass(frozen=True)
class Requester:
    """Who is asking, through which channel. Staff channels must carry a permitted user."""

    channel: str
    actor: str = Actor.RESIDENT
    user: AbstractBaseUser | AnonymousUser | None = None
    proxy_relationship: str = ""

    @property
    def is_staff_channel(self) -> bool:
        return self.channel in STAFF_CHANNELS

    def has_perm(self, perm: str) -> bool:
        # Users from django.contrib.auth have has_perm; AnonymousUser always says no.
        checker = getattr(self.user, "has_perm", None)
        return bool(checker is not None and checker(perm))

    @property
    def staff_user(self) -> Any:
        return self.user if self.user is not None and self.user.is_authenticated else None


# Channel.values builds its list anew on every read.
_CHANNELS = frozenset(Channel.values)


def _check_requester(requester: Requester) -> None:
    if requester.channel not in _CHANNELS:
        raise ValueError(f"unknown channel {requester.channel!r}")
    if requester.is_staff_channel and not requester.has_perm("reservations.book_on_behalf"):
        raise PermissionDenied()


def _event_new(
    reservation: Reservation, kind: str, requester: Requester, **data: Any
) -> ReservationEvent:
    return ReservationEvent(
        reservation=reservation,
        kind=kind,
        channel=requester.channel,
        actor=requester.actor,
        actor_user=requester.staff_user,
        data=data,
    )


def event_record(reservation: Reservation, kind: str, requester: Requester, **data: Any) -> None:
    event_insert(_event_new(reservation, kind, requester, **data))


# --- Seats --------------------------------------------------------------------------------------


def _phone_reserve_applies(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Whether this booking must leave the slot's unused phone reserve alone."""
    released_at = slot.reserve_released_at()
    return not staff and (released_at is None or now < released_at)


def _take_seat(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Take one seat if one is free for this kind of channel. One statement, so race-free."""
    return seat_take(
        slot.pk,
        staff=staff,
        phone_reserve_applies=_phone_reserve_applies(slot, staff=staff, now=now),
    )


def _seat_and_rows_write(
    reservation: Reservation, event: ReservationEvent, *, history: History, now: dt.datetime
) -> bool:
    """Take a seat in the reservation's slot and write the reservation and its event, or raise
    SlotFull. False, with nothing written, if the resident's history is no longer `history`
    (booking_sql.History). As _take_seat_releasing_expired: run-out holds are released only when
    the slot looks full, so the common booking is one statement (on PostgreSQL)."""
    slot = reservation.slot
    staff = reservation.staff_seat
    holds_released = False
    while True:
        written = booking_write(
            reservation,
            event,
            staff=staff,
            phone_reserve_applies=_phone_reserve_applies(slot, staff=staff, now=now),
            history=history,
        )
        if written is Write.ROWS_LEFT:
            # The seat is ours; the rows still have to be written (see booking_write).
            reservation.code = reservation_code_generate()
            _insert_with_new_code(reservation)
            event.reservation = reservation
            event_insert(event)
            return True
        if written is not Write.SLOT_FULL:
            return written is Write.DONE
        if holds_released or not _expire_holds(now=now, slot_ids=[slot.pk]):
            raise SlotFull()
        holds_released = True


def _take_seat_releasing_expired(slot: Slot, *, staff: bool, now: dt.datetime) -> bool:
    """Take a seat; if the slot looks full, release holds in it that ran out and try once more.
    Checking expiry only on this path keeps the common booking a single UPDATE."""
    if _take_seat(slot, staff=staff, now=now):
        return True
    return bool(_expire_holds(now=now, slot_ids=[slot.pk])) and _take_seat(
        slot, staff=staff, now=now
    )


def _take_seat_or_fail(slot: Slot, *, staff: bool, now: dt.datetime) -> None:
    if not _take_seat_releasing_expired(slot, staff=staff, now=now):
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


def _expire_holds(
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


def reservation_release_expired_holds(*, now: dt.datetime | None = None) -> int:
    """Housekeeping for the periodic task; correctness never depends on it running."""
    now = now or timezone.now()
    total = 0
    while True:
        # 200 holds per transaction, so the tidy-up never holds locks for long.
        with transaction.atomic():
            released = _expire_holds(now=now)
        total += released
        if released == 0:
            return total


# --- Booking ------------------------------------------------------------------------------------


def _new_code() -> str:
    # 10^8 codes; a collision is rare enough that checking first is fine, and the unique
    # constraint still catches the impossible race.
    for _attempt in range(CODE_ATTEMPTS):
        code = reservation_code_generate()
        if not Reservation.objects.filter(code=code).exists():
            return code
    raise RuntimeError("could not find a free reservation code")


def _insert_with_new_code(reservation: Reservation) -> None:
    """INSERT, drawing a new 予約番号 while the current one is taken (the unique column decides,
    so there is no check-then-insert race and no extra statement)."""
    for _attempt in range(CODE_ATTEMPTS):
        if reservation_insert(reservation):
            return
        reservation.code = reservation_code_generate()
    raise RuntimeError("could not find a free reservation code")


def _check_window(
    slot: Slot, requester: Requester, *, now: dt.datetime, override_reason: str
) -> dict[str, Any]:
    """Booking window of the slot's day; staff with the permission may override, with a reason."""
    if slot.starts_at <= now:
        raise OutsideBookingWindow(_("この時間はすでに過ぎています。"))
    day = slot.operating_day
    today = timezone.localdate(now)
    if day.booking_opens_on() <= today <= day.booking_closes_after():
        return {}
    if requester.has_perm("reservations.override_booking_window") and override_reason:
        return {"window_override": override_reason}
    if today < day.booking_opens_on():
        raise OutsideBookingWindow(
            _("%(date)sの予約受付は%(opens)sからです。")
            % {"date": day.date.isoformat(), "opens": day.booking_opens_on().isoformat()},
            opens_on=day.booking_opens_on(),
        )
    raise OutsideBookingWindow(
        _("%(date)sの予約受付は%(closed)sで終了しました。コールセンターにお電話ください。")
        % {"date": day.date.isoformat(), "closed": day.booking_closes_after().isoformat()},
        closed_after=day.booking_closes_after(),
    )


def _check_rules(
    *,
    resident: Resident,
    slot: Slot,
    dose_number: int,
    history: list[HistoryDose],
    now: dt.datetime,
    override_reason: str,
    requester: Requester,
) -> Decision:
    day = slot.operating_day
    rules = rulebook_for(
        municipality_id=resident.municipality_id,
        campaign=day.campaign,
        antigen=day.vaccine.antigen,
    )
    # Only staff allowed to make medical exceptions (e.g. mixing products) can record a reason.
    reason = override_reason if requester.has_perm("reservations.override_interval") else ""
    return check_dose(
        person=person_for(resident),
        campaign=day.campaign,
        vaccine=day.vaccine,
        dose_number=dose_number,
        on=day.date,
        booked_on=timezone.localdate(now),
        history=history,
        rules=rules,
        override_reason=reason,
    )


def _load_slot(slot: Slot | int) -> Slot:
    return slot_with_day(slot if isinstance(slot, int) else slot.pk)


def _reservation_new(
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


def _pair_next_dose(
    *,
    first: Reservation,
    ticket: Ticket,
    requester: Requester,
    history: list[HistoryDose],
    now: dt.datetime,
    status: str,
    held_until: dt.datetime | None,
) -> Reservation:
    """Book the next dose of the series at the standard interval, same site and time of day,
    or the nearest seat there that the rules allow."""
    slot = first.slot
    day = slot.operating_day
    resident = ticket.resident
    rules = rulebook_for(
        municipality_id=resident.municipality_id,
        campaign=day.campaign,
        antigen=day.vaccine.antigen,
    )
    dose_number = first.dose_number + 1
    target_date = standard_next_date(
        vaccine=day.vaccine,
        dose_number=dose_number,
        previous_on=day.date,
        municipality_id=resident.municipality_id,
        rules=rules,
    )
    if target_date is None:
        raise SecondDoseUnavailable()
    local_start = timezone.localtime(slot.starts_at)
    target = local_start.replace(
        year=target_date.year, month=target_date.month, day=target_date.day
    )
    candidates = Slot.objects.filter(
        operating_day__site_id=day.site_id,
        operating_day__vaccine_id=day.vaccine_id,
        operating_day__campaign_id=day.campaign_id,
        operating_day__date__gte=target_date - dt.timedelta(days=PAIRING_SEARCH_DAYS_BEFORE),
        operating_day__date__lte=target_date + dt.timedelta(days=PAIRING_SEARCH_DAYS_AFTER),
    ).select_related(
        "operating_day__site", "operating_day__vaccine", "operating_day__campaign__program"
    )
    plan = [*history, planned_dose(first)]
    staff = requester.is_staff_channel
    verdict: dict[dt.date, Decision | None] = {}
    for candidate in sorted(candidates, key=lambda s: abs(s.starts_at - target)):
        cday = candidate.operating_day.date
        if cday not in verdict:
            try:
                verdict[cday] = check_dose(
                    person=person_for(resident),
                    campaign=day.campaign,
                    vaccine=day.vaccine,
                    dose_number=dose_number,
                    on=cday,
                    booked_on=timezone.localdate(now),
                    history=plan,
                    rules=rules,
                )
            except (NotEligible, BookingNotOpenYet):
                verdict[cday] = None
        decision = verdict[cday]
        if decision is None or not _take_seat_releasing_expired(candidate, staff=staff, now=now):
            continue
        second = _reservation_new(
            ticket=ticket,
            slot=candidate,
            dose_number=dose_number,
            status=status,
            held_until=held_until,
            requester=requester,
            staff_seat=staff,
            decision=decision,
            override_reason="",
            idempotency_key=None,
        )
        _insert_with_new_code(second)
        first.next_dose = second
        first.save(update_fields=["next_dose", "updated_at"])
        return second
    raise SecondDoseUnavailable()


def _book(
    *,
    ticket: Ticket,
    slot: Slot | int,
    requester: Requester,
    status: str,
    dose_number: int | None,
    book_next_dose: bool,
    idempotency_key: str | None,
    override_reason: str,
    now: dt.datetime | None,
) -> Reservation:
    _check_requester(requester)
    now = now or timezone.now()
    slot_id = slot if isinstance(slot, int) else slot.pk
    if idempotency_key:
        existing = Reservation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, ticket=ticket, slot_id=slot_id)
    if ticket.status != Ticket.Status.ISSUED:
        raise CredentialsInvalid()
    held_until = (
        now + dt.timedelta(minutes=settings.RESERVATION_HOLD_MINUTES)
        if status == Reservation.Status.HELD
        else None
    )
    try:
        with transaction.atomic():
            # Lock the resident: two bookings for one person (a double click, web and phone at
            # once) must see each other, or both could pass the per-campaign limit and dose
            # numbering checks. A no-op on SQLite, where IMMEDIATE already serialises writers.
            # The slot and the resident's history come with it, to save round trips (the
            # write checks that history again: booking_sql.History); a refusal below rolls back.
            slot, resident, history = booking_context(slot_id, ticket.resident_id)
            if idempotency_key:
                # A concurrent duplicate waited on the lock above; now it sees the first result.
                existing = Reservation.objects.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return _replay(existing, ticket=ticket, slot_id=slot_id)
            window_note = _check_window(slot, requester, now=now, override_reason=override_reason)
            if any(b.held_until is not None and b.held_until <= now for b in history.active):
                # The resident's own run-out hold must not block their new booking.
                _expire_holds(now=now, resident_id=resident.pk)
                history = history_read(resident.pk)
            day = slot.operating_day
            staff = requester.is_staff_channel
            kind = (
                ReservationEvent.Kind.HELD
                if status == Reservation.Status.HELD
                else ReservationEvent.Kind.BOOKED
            )
            while True:
                dose = (
                    dose_number
                    if dose_number is not None
                    else next_dose_number(campaign=day.campaign, history=history.doses)
                )
                for booking in history.active:
                    if (
                        booking.dose.campaign_id == day.campaign_id
                        and booking.dose.dose_number == dose
                    ):
                        raise AlreadyBooked(existing_code=booking.code)
                decision = _check_rules(
                    resident=resident,
                    slot=slot,
                    dose_number=dose,
                    history=history.doses,
                    now=now,
                    override_reason=override_reason,
                    requester=requester,
                )
                reservation = _reservation_new(
                    ticket=ticket,
                    slot=slot,
                    dose_number=dose,
                    status=status,
                    held_until=held_until,
                    requester=requester,
                    staff_seat=staff,
                    decision=decision,
                    override_reason=override_reason,
                    idempotency_key=idempotency_key or None,
                )
                event = _event_new(
                    reservation, kind, requester, slot=slot.pk, dose_number=dose, **window_note
                )
                if _seat_and_rows_write(reservation, event, history=history, now=now):
                    break
                # The history that came with the lock was out of date (booking_sql.History):
                # decide again on the current one, which cannot be out of date a second time.
                history = history_read(resident.pk)
            # A series is booked together (セット予約) only where the programme allows more
            # than one dose per campaign: the routine programmes give one dose a season.
            limit = day.campaign.program.max_doses_per_campaign
            wants_pair = (
                book_next_dose
                and dose < day.vaccine.primary_series_doses
                and (limit is None or limit > 1)
            )
            if wants_pair:
                second = _pair_next_dose(
                    first=reservation,
                    ticket=ticket,
                    requester=requester,
                    history=history.doses,
                    now=now,
                    status=status,
                    held_until=held_until,
                )
                event_record(
                    second,
                    kind,
                    requester,
                    slot=second.slot_id,
                    dose_number=second.dose_number,
                    paired_with=reservation.code,
                )
    except IntegrityError:
        # A concurrent request won a unique constraint: the same idempotency key, or another
        # active booking of this dose. Everything above rolled back, seat included.
        if idempotency_key:
            existing = Reservation.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, ticket=ticket, slot_id=slot_id)
        raise AlreadyBooked() from None
    return reservation


def _replay(existing: Reservation, *, ticket: Ticket, slot_id: int) -> Reservation:
    """A retried request gets the first one's result; a different request with the same key
    is an error, never a silent second booking."""
    if existing.ticket_id != ticket.pk or existing.slot_id != slot_id:
        raise IdempotencyKeyReused()
    return existing


def reservation_hold(
    *,
    ticket: Ticket,
    slot: Slot | int,
    requester: Requester,
    dose_number: int | None = None,
    book_next_dose: bool = True,
    idempotency_key: str | None = None,
    override_reason: str = "",
    now: dt.datetime | None = None,
) -> Reservation:
    """Hold a seat (and the paired next dose) for a few minutes while the resident confirms."""
    return _book(
        ticket=ticket,
        slot=slot,
        requester=requester,
        status=Reservation.Status.HELD,
        dose_number=dose_number,
        book_next_dose=book_next_dose,
        idempotency_key=idempotency_key,
        override_reason=override_reason,
        now=now,
    )


def reservation_book(
    *,
    ticket: Ticket,
    slot: Slot | int,
    requester: Requester,
    dose_number: int | None = None,
    book_next_dose: bool = True,
    idempotency_key: str | None = None,
    override_reason: str = "",
    now: dt.datetime | None = None,
) -> Reservation:
    """Book directly, confirmed at once (operators, partner systems)."""
    return _book(
        ticket=ticket,
        slot=slot,
        requester=requester,
        status=Reservation.Status.CONFIRMED,
        dose_number=dose_number,
        book_next_dose=book_next_dose,
        idempotency_key=idempotency_key,
        override_reason=override_reason,
        now=now,
    )


def _series(reservation: Reservation) -> list[Reservation]:
    chain = [reservation]
    while chain[-1].next_dose_id is not None:
        nxt = Reservation.objects.select_for_update().get(pk=chain[-1].next_dose_id)
        chain.append(nxt)
    return chain


def reservation_confirm(
    *, reservation: Reservation, requester: Requester, now: dt.datetime | None = None
) -> Reservation:
    """Turn a hold (and its paired doses) into a booking. Confirming twice is harmless."""
    _check_requester(requester)
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the hold so a confirm and an expiry (or two confirms) cannot interleave.
        current = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if current.status == Reservation.Status.CONFIRMED:
            return current
        if current.status != Reservation.Status.HELD or (
            current.held_until is not None and current.held_until <= now
        ):
            if current.cancel_reason == Reservation.CancelReason.HOLD_EXPIRED or (
                current.status == Reservation.Status.HELD
            ):
                raise HoldExpired()
            raise InvalidStateTransition()
        for member in _series(current):
            if member.status != Reservation.Status.HELD:
                continue
            member.status = Reservation.Status.CONFIRMED
            member.held_until = None
            member.save(update_fields=["status", "held_until", "updated_at"])
            event_record(
                member,
                ReservationEvent.Kind.BOOKED,
                requester,
                slot=member.slot_id,
                dose_number=member.dose_number,
            )
    return current


def _check_change_deadline(
    reservation: Reservation, requester: Requester, *, now: dt.datetime
) -> None:
    if requester.is_staff_channel or reservation.status == Reservation.Status.HELD:
        return
    day = reservation.slot.operating_day
    if timezone.localdate(now) > day.changes_close_after():
        raise ChangeDeadlinePassed()


def reservation_cancel(
    *,
    reservation: Reservation,
    requester: Requester,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Reservation:
    """Cancel a booking and every later dose paired with it. The seat is released at once,
    which is why a cancellation cannot be undone. Cancelling again changes nothing."""
    _check_requester(requester)
    now = now or timezone.now()
    if reason is None:
        reason = (
            Reservation.CancelReason.BY_OPERATOR
            if requester.is_staff_channel
            else Reservation.CancelReason.BY_RESIDENT
        )
    with transaction.atomic():
        # Lock the booking row: a concurrent change or second cancel must wait and then see
        # the new status, so the seat is given back exactly once.
        current = (
            Reservation.objects.select_related("slot__operating_day")
            .select_for_update(of=("self",))
            .get(pk=reservation.pk)
        )
        if current.status == Reservation.Status.CANCELLED:
            return current
        if not current.is_active:
            raise InvalidStateTransition()
        _check_change_deadline(current, requester, now=now)
        previous = Reservation.objects.filter(next_dose=current).first()
        if previous is not None and previous.is_active and not requester.is_staff_channel:
            raise InvalidStateTransition(
                _("セット予約の2回目だけのキャンセルはコールセンターで承ります。")
            )
        for index, member in enumerate(_series(current)):
            if not member.is_active:
                continue
            reservation_end(
                member,
                reason=reason if index == 0 else Reservation.CancelReason.SERIES_CANCELLED,
                requester=requester,
                now=now,
            )
    current.refresh_from_db()
    return current


def reservation_change(
    *,
    reservation: Reservation,
    slot: Slot | int,
    requester: Requester,
    override_reason: str = "",
    now: dt.datetime | None = None,
) -> Reservation:
    """Move a booking to another slot. Atomic: the old seat is released only once the new one
    is taken; if the paired next dose no longer fits the interval it is moved too."""
    _check_requester(requester)
    now = now or timezone.now()
    new_slot = _load_slot(slot)
    try:
        with transaction.atomic():
            current = Reservation.objects.select_for_update().get(pk=reservation.pk)
            resident = Resident.objects.select_for_update().get(pk=current.resident_id)
            if not current.is_active:
                raise InvalidStateTransition()
            if current.held_until is not None and current.held_until <= now:
                raise HoldExpired()
            if current.slot_id == new_slot.pk:
                return current
            if new_slot.operating_day.campaign_id != current.campaign_id:
                raise InvalidStateTransition(
                    _("別の接種事業の枠には変更できません。新しく予約してください。")
                )
            _check_change_deadline(current, requester, now=now)
            window_note = _check_window(
                new_slot, requester, now=now, override_reason=override_reason
            )
            following = current.next_dose
            # The booking being moved and its paired next dose are judged afresh.
            history = dose_history(
                resident=resident,
                exclude_reservation_ids=[current.pk, *([following.pk] if following else [])],
            )
            decision = _check_rules(
                resident=resident,
                slot=new_slot,
                dose_number=current.dose_number,
                history=history,
                now=now,
                override_reason=override_reason,
                requester=requester,
            )
            staff = requester.is_staff_channel
            _take_seat_or_fail(new_slot, staff=staff, now=now)
            seat_give_back(current)
            old_slot_id, old_code = current.slot_id, current.code
            current.slot = new_slot
            current.vaccine = new_slot.operating_day.vaccine
            current.staff_seat = staff
            current.rules_applied = decision.rules_applied
            current.warnings = decision.warnings
            if override_reason:
                current.override_reason = override_reason
            if new_slot.operating_day.site.new_code_on_change:
                current.code = _new_code()
            current.save()
            event_record(
                current,
                ReservationEvent.Kind.CHANGED,
                requester,
                from_slot=old_slot_id,
                to_slot=new_slot.pk,
                old_code=old_code,
                code=current.code,
                **window_note,
            )
            if following is not None and following.is_active:
                _refit_following(
                    current=current,
                    following=following,
                    requester=requester,
                    history=history,
                    now=now,
                )
    except IntegrityError:
        raise AlreadyBooked() from None
    return current


def _refit_following(
    *,
    current: Reservation,
    following: Reservation,
    requester: Requester,
    history: list[HistoryDose],
    now: dt.datetime,
) -> None:
    """After dose N moved, keep dose N+1 if it still satisfies the rules; otherwise move it to
    the standard interval from the new date."""
    resident = current.resident
    plan = [*history, planned_dose(current)]
    following_slot = _load_slot(following.slot_id)
    try:
        check_dose(
            person=person_for(resident),
            campaign=following.campaign,
            vaccine=following.vaccine,
            dose_number=following.dose_number,
            on=following_slot.operating_day.date,
            booked_on=timezone.localdate(now),
            history=plan,
            rules=rulebook_for(
                municipality_id=resident.municipality_id,
                campaign=following.campaign,
                antigen=following.vaccine.antigen,
            ),
        )
        return
    except NotEligible:
        pass
    # Release the old paired seat and book a new one through the same pairing search.
    reservation_end(
        Reservation.objects.select_for_update().get(pk=following.pk),
        reason=Reservation.CancelReason.SERIES_CANCELLED,
        requester=requester,
        now=now,
        moved_with=current.code,
    )
    current.next_dose = None
    current.slot = _load_slot(current.slot_id)
    second = _pair_next_dose(
        first=current,
        ticket=current.ticket,
        requester=requester,
        history=history,
        now=now,
        status=current.status,
        held_until=current.held_until,
    )
    event_record(
        second,
        ReservationEvent.Kind.BOOKED,
        requester,
        slot=second.slot_id,
        dose_number=second.dose_number,
        paired_with=current.code,
    )


def reservation_mark_no_show(
    *, reservation: Reservation, requester: Requester, now: dt.datetime | None = None
) -> Reservation:
    """Record that a confirmed booking was not used. The seat stays counted: it was lost."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if current.status == Reservation.Status.NO_SHOW:
            return current
        if current.status != Reservation.Status.CONFIRMED:
            raise InvalidStateTransition()
        if current.slot.starts_at > now:
            raise InvalidStateTransition(_("予約時刻より前に来場なしにはできません。"))
        current.status = Reservation.Status.NO_SHOW
        current.save(update_fields=["status", "updated_at"])
        event_record(current, ReservationEvent.Kind.NO_SHOW, requester, slot=current.slot_id)
    return current
