"""Series pairing (セット予約): booking dose N+1 of a primary series together with dose N, at
the standard interval, at the same site and time of day or the nearest seat the rules allow
(`series_pair_next_dose`), and keeping that pair valid when dose N moves
(`series_refit_following`). Confirming and cancelling walk the series with
`selectors.reservation_series`."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from reservations.exceptions import BookingNotOpenYet, NotEligible, SecondDoseUnavailable
from reservations.models import Reservation, ReservationEvent, Slot, Ticket
from reservations.rules.engine import Decision, HistoryDose, standard_next_date
from reservations.selectors import dose_check, person_for, planned_dose, rulebook_for
from reservations.services.booking_sql import slot_with_day
from reservations.services.events import event_record
from reservations.services.new_reservation import reservation_insert_new_code, reservation_new
from reservations.services.requester import Requester
from reservations.services.seats import reservation_end, seat_take_releasing_expired

# How far around the standard date to look for a seat for the paired dose.
PAIRING_SEARCH_DAYS_BEFORE = 7
PAIRING_SEARCH_DAYS_AFTER = 28


def series_pair_next_dose(
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
    # The first dose's own site only: its municipality was checked when the first dose was
    # booked or moved (booking._check_municipality), so the pair needs no check of its own.
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
    person = person_for(resident)
    verdict: dict[dt.date, Decision | None] = {}
    for candidate in sorted(candidates, key=lambda s: abs(s.starts_at - target)):
        cday = candidate.operating_day.date
        if cday not in verdict:
            try:
                verdict[cday] = dose_check(
                    person=person,
                    campaign=day.campaign,
                    vaccine=day.vaccine,
                    dose_number=dose_number,
                    on=cday,
                    booked_on=timezone.localdate(now),
                    history=plan,
                )
            except (NotEligible, BookingNotOpenYet):
                verdict[cday] = None
        decision = verdict[cday]
        if decision is None or not seat_take_releasing_expired(candidate, staff=staff, now=now):
            continue
        second = reservation_new(
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
        reservation_insert_new_code(second)
        first.next_dose = second
        first.save(update_fields=["next_dose", "updated_at"])
        return second
    raise SecondDoseUnavailable()


def series_refit_following(
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
    following_slot = slot_with_day(following.slot_id)
    try:
        dose_check(
            person=person_for(resident),
            campaign=following.campaign,
            vaccine=following.vaccine,
            dose_number=following.dose_number,
            on=following_slot.operating_day.date,
            booked_on=timezone.localdate(now),
            history=plan,
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
    current.slot = slot_with_day(current.slot_id)
    second = series_pair_next_dose(
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
