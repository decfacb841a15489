"""Booking verbs: hold, book, confirm, change, cancel, check in, no-show, and releasing holds
that ran out. The only code that saves Reservation rows; each verb is one short transaction
that locks what it changes, checks the rules, and writes the row with its event.

The rooms it uses: `seats` (the seat arithmetic, the only code that moves slot counters, and
`reservation_end`), `series` (pairing the next dose of a series), `events` (the event trail and
its `events_recorded` signal), `new_reservation` (a new row and its 予約番号), `requester` (who
asks, through which channel), and `booking_sql` (the statements of the booking transaction).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.cohorts import cohort_door_check
from reservations.exceptions import (
    AlreadyBooked,
    ChangeDeadlinePassed,
    CohortNotOpenYet,
    CredentialsInvalid,
    HoldExpired,
    IdempotencyKeyReused,
    InvalidStateTransition,
    OpeningBlocked,
    OutsideBookingWindow,
    SlotOtherMunicipality,
)
from reservations.models import (
    Campaign,
    Municipality,
    OperatingDay,
    Reservation,
    ReservationEvent,
    Resident,
    Slot,
    Ticket,
)
from reservations.rules.engine import Decision, HistoryDose
from reservations.selectors import (
    dose_check,
    dose_history,
    next_dose_number,
    no_show_candidates,
    person_for,
    reservation_series,
    ticket_may_book_in,
)
from reservations.services.booking_rows import History
from reservations.services.booking_sql import (
    booking_context,
    history_read,
    slot_with_day,
)
from reservations.services.events import event_new, event_record
from reservations.services.new_reservation import reservation_code_free, reservation_new
from reservations.services.requester import Requester, requester_check
from reservations.services.seats import (
    holds_expire,
    reservation_end,
    seat_and_rows_write,
    seat_give_back,
    seat_take_or_fail,
)
from reservations.services.series import series_pair_next_dose, series_refit_following

# Channels import these from here, where the booking verbs are.
__all__ = [
    "Requester",
    "reservation_book",
    "reservation_cancel",
    "reservation_change",
    "reservation_check_in",
    "reservation_confirm",
    "reservation_end",
    "reservation_hold",
    "reservation_mark_no_show",
    "reservation_undo_no_show",
    "reservation_release_expired_holds",
    "operating_day_mark_no_shows",
]

logger = logging.getLogger(__name__)


def reservation_release_expired_holds(*, now: dt.datetime | None = None) -> int:
    """Housekeeping for the periodic task; correctness never depends on it running."""
    now = now or timezone.now()
    total = 0
    while True:
        # 200 holds per transaction, so the tidy-up never holds locks for long.
        with transaction.atomic():
            released = holds_expire(now=now)
        total += released
        if released == 0:
            return total


def _check_municipality(slot: Slot, ticket: Ticket) -> None:
    """A ticket books its own municipality's venues, or those of a municipality that accepts
    its residents (selectors.ticket_may_book_in). The ticket, not the resident, decides: it is
    what the booking is made with, and its municipality is the one that pays for the dose and
    reports it; the import gives a ticket's holder that municipality anyway. No staff override:
    the accepting municipality decides, as data. Both ids are on rows already loaded, so the
    common case costs no query; a refusal reads the two names it shows."""
    slot_municipality_id = slot.operating_day.site.municipality_id
    if ticket_may_book_in(
        slot_municipality_id=slot_municipality_id, ticket_municipality_id=ticket.municipality_id
    ):
        return
    raise SlotOtherMunicipality(
        slot_municipality=Municipality.objects.get(pk=slot_municipality_id),
        ticket_municipality=ticket.municipality,
    )


def _check_window(
    slot: Slot, requester: Requester, *, now: dt.datetime, override_reason: str
) -> dict[str, Any]:
    """Booking window of the slot's day; staff with the permission may override, with a reason."""
    if slot.starts_at <= now:
        raise OutsideBookingWindow(_("この時間はすでに過ぎています。"))
    day = slot.operating_day
    if day.is_open_for_booking(now):
        return {}
    if requester.has_perm("reservations.override_booking_window") and override_reason:
        return {"window_override": override_reason}
    if timezone.localdate(now) < day.booking_opens_on():
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


def _check_cohort_door(
    resident: Resident, slot: Slot, requester: Requester, *, now: dt.datetime, override_reason: str
) -> dict[str, Any]:
    """The municipality's door for the resident's birth-date band (reservations.cohorts); staff
    who may override the booking window may open it early for one person, with a reason, and
    so may they one held shut by the pre-opening check (OpeningBlocked): the override is then
    theirs for that one booking, recorded in its event."""
    try:
        cohort_door_check(resident=resident, campaign_id=slot.operating_day.campaign_id, now=now)
    except (CohortNotOpenYet, OpeningBlocked):
        if requester.has_perm("reservations.override_booking_window") and override_reason:
            return {"cohort_override": override_reason}
        raise
    return {}


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
    # Only staff allowed to make medical exceptions (e.g. mixing products) can record a reason.
    reason = override_reason if requester.has_perm("reservations.override_interval") else ""
    return dose_check(
        person=person_for(resident),
        campaign=day.campaign,
        vaccine=day.vaccine,
        dose_number=dose_number,
        on=day.date,
        booked_on=timezone.localdate(now),
        history=history,
        override_reason=reason,
    )


def _check_not_already_booked(campaign: Campaign, dose: int, history: History) -> None:
    """AlreadyBooked, naming the booking the resident holds, when this is a second booking.

    Either the same dose of the campaign is booked, or the campaign's limit (one dose a season
    in the routine programmes) is used up and part of it is a booking the resident still holds:
    the next dose number is then one they cannot have, but what they are doing is booking
    again, and the answer they need is the booking they have, not the rule.
    A limit used up by doses given is the rule's refusal (NotEligible), as before.
    """
    in_campaign = [b for b in history.active if b.dose.campaign_id == campaign.pk]
    for booking in in_campaign:
        if booking.dose.dose_number == dose:
            raise AlreadyBooked(existing_code=booking.code)
    limit = campaign.program.max_doses_per_campaign
    counted = [h for h in history.doses if h.campaign_id == campaign.pk]
    if in_campaign and limit is not None and len(counted) >= limit:
        first = min(in_campaign, key=lambda b: b.dose.dose_number)
        raise AlreadyBooked(existing_code=first.code)


def _already_booked_by_a_racer(
    *, resident_id: int, campaign_id: int | None, exclude: int | None = None
) -> AlreadyBooked:
    """The AlreadyBooked for a booking the database refused (one active booking per dose)
    because a concurrent one won: read after the rollback, it names the booking the resident
    now holds in the campaign (the lowest dose, as _check_not_already_booked does), as the API
    promises in detail.existing_code."""
    held = Reservation.objects.filter(
        resident_id=resident_id, status__in=Reservation.ACTIVE_STATUSES
    )
    if campaign_id is not None:  # None: the slot itself is gone; any active booking will do
        held = held.filter(campaign_id=campaign_id)
    if exclude is not None:
        held = held.exclude(pk=exclude)
    code = held.order_by("dose_number", "pk").values_list("code", flat=True).first()
    return AlreadyBooked(existing_code=code)


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
    requester_check(requester)
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
            _check_municipality(slot, ticket)
            window_note = _check_window(slot, requester, now=now, override_reason=override_reason)
            window_note |= _check_cohort_door(
                resident, slot, requester, now=now, override_reason=override_reason
            )
            if any(b.held_until is not None and b.held_until <= now for b in history.active):
                # The resident's own run-out hold must not block their new booking.
                holds_expire(now=now, resident_id=resident.pk)
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
                _check_not_already_booked(day.campaign, dose, history)
                decision = _check_rules(
                    resident=resident,
                    slot=slot,
                    dose_number=dose,
                    history=history.doses,
                    now=now,
                    override_reason=override_reason,
                    requester=requester,
                )
                reservation = reservation_new(
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
                event = event_new(
                    reservation, kind, requester, slot=slot.pk, dose_number=dose, **window_note
                )
                if seat_and_rows_write(reservation, event, history=history, now=now):
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
                second = series_pair_next_dose(
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
        campaign_id = (
            Slot.objects.filter(pk=slot_id)
            .values_list("operating_day__campaign_id", flat=True)
            .first()
        )
        raise _already_booked_by_a_racer(
            resident_id=ticket.resident_id, campaign_id=campaign_id
        ) from None
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


def reservation_confirm(
    *, reservation: Reservation, requester: Requester, now: dt.datetime | None = None
) -> Reservation:
    """Turn a hold (and its paired doses) into a booking. Confirming twice is harmless."""
    requester_check(requester)
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
        for member in reservation_series(current, for_update=True):
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
    # Cancelling a booking for a dose VRS shows given elsewhere is the reconciliation's work:
    # staff allowed to reconcile (the exporters) may do that, and only that, without the
    # call centre's permission to book for residents.
    requester_check(
        requester,
        also_permitted=(
            "reservations.reconcile_vrs"
            if reason == Reservation.CancelReason.VACCINATED_ELSEWHERE
            else None
        ),
    )
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
        for index, member in enumerate(reservation_series(current, for_update=True)):
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
    requester_check(requester)
    now = now or timezone.now()
    new_slot = slot_with_day(slot if isinstance(slot, int) else slot.pk)
    try:
        with transaction.atomic():
            # The ticket comes along (not locked) for the municipality check.
            current = (
                Reservation.objects.select_related("ticket")
                .select_for_update(of=("self",))
                .get(pk=reservation.pk)
            )
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
            _check_municipality(new_slot, current.ticket)
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
            seat_take_or_fail(new_slot, staff=staff, now=now)
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
                current.code = reservation_code_free()
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
                series_refit_following(
                    current=current,
                    following=following,
                    requester=requester,
                    history=history,
                    now=now,
                )
    except IntegrityError:
        raise _already_booked_by_a_racer(
            resident_id=current.resident_id, campaign_id=current.campaign_id, exclude=current.pk
        ) from None
    return current


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
        if current.checked_in_at is not None:
            raise InvalidStateTransition(_("受付済みの予約は来場なしにできません。"))
        current.status = Reservation.Status.NO_SHOW
        current.save(update_fields=["status", "updated_at"])
        event_record(current, ReservationEvent.Kind.NO_SHOW, requester, slot=current.slot_id)
    return current


def reservation_undo_no_show(
    *, reservation: Reservation, requester: Requester, now: dt.datetime | None = None
) -> Reservation:
    """Take back a no-show while its day is still open (the person came late, or staff marked
    the wrong row): the booking is confirmed again and the trail keeps both events. After the
    day the no-show stands; a dose given anyway is recorded against it as before."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if current.status == Reservation.Status.CONFIRMED:
            return current
        if current.status != Reservation.Status.NO_SHOW:
            raise InvalidStateTransition()
        if timezone.localdate(current.slot.starts_at) != timezone.localdate(now):
            raise InvalidStateTransition(_("来場なしの取り消しは、予約日の当日中だけできます。"))
        current.status = Reservation.Status.CONFIRMED
        current.save(update_fields=["status", "updated_at"])
        event_record(current, ReservationEvent.Kind.NO_SHOW_UNDONE, requester, slot=current.slot_id)
    return current


def reservation_check_in(
    *, reservation: Reservation, requester: Requester, now: dt.datetime | None = None
) -> Reservation:
    """The resident arrived at reception. Checking in twice changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the booking: a check-in racing a cancellation must see the final status.
        current = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if current.checked_in_at is not None:
            return current
        if current.status != Reservation.Status.CONFIRMED:
            raise InvalidStateTransition()
        if timezone.localdate(current.slot.starts_at) != timezone.localdate(now):
            raise InvalidStateTransition(_("この予約は本日の予約ではありません。"))
        current.checked_in_at = now
        current.save(update_fields=["checked_in_at", "updated_at"])
        event_record(current, ReservationEvent.Kind.CHECKED_IN, requester)
    return current


def operating_day_mark_no_shows(
    *,
    operating_day: OperatingDay,
    requester: Requester,
    only: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> list[Reservation]:
    """End of day: every confirmed booking of the day whose time has passed and that nobody
    checked in becomes a no-show (selectors.no_show_candidates).

    `only` limits it to these booking ids: the ones staff saw in the preview. A booking that
    changed since (checked in, recorded) is left alone rather than refused.
    """
    now = now or timezone.now()
    unclaimed = no_show_candidates(operating_day=operating_day, now=now)
    if only is not None:
        unclaimed = unclaimed.filter(pk__in=list(only))
    marked = []
    for reservation in unclaimed:
        try:
            marked.append(
                reservation_mark_no_show(reservation=reservation, requester=requester, now=now)
            )
        except InvalidStateTransition:
            continue  # checked in, recorded or cancelled since the list was read
    return marked
