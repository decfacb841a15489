"""Recording administered doses. Records are right when made: VRS ended 2021 with ~5% of its
records needing correction (dose 2 before dose 1, future dates, wrong tickets)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reservations.exceptions import InvalidStateTransition, NotEligible, VaccinationInvalid
from reservations.models import (
    Campaign,
    Reservation,
    ReservationEvent,
    Resident,
    Site,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.rules.engine import check_dose
from reservations.selectors import dose_history, next_dose_number, person_for, rulebook_for
from reservations.services.booking import Requester, event_record, reservation_end


def vaccination_record(
    *,
    resident: Resident,
    vaccine: Vaccine,
    vaccinated_on: dt.date,
    requester: Requester,
    reservation: Reservation | None = None,
    ticket: Ticket | None = None,
    campaign: Campaign | None = None,
    site: Site | None = None,
    dose_number: int | None = None,
    vaccinated_at: dt.datetime | None = None,
    outcome: str = Vaccination.Outcome.VACCINATED,
    lot_number: str = "",
    doctor_name: str = "",
    override_reason: str = "",
    source: str = Vaccination.Source.OUR_SITE,
    now: dt.datetime | None = None,
) -> Vaccination:
    """Record one dose (or a visit that ended without one) and close its reservation.

    Refuses a future date, a date before the previous dose, a dose number that does not follow
    the history, and an interval the rules forbid, unless `override_reason` is given by staff
    allowed to override intervals (the reason is kept on the record).
    """
    now = now or timezone.now()
    if vaccinated_on > timezone.localdate(now):
        raise VaccinationInvalid(_("接種日に未来の日付は登録できません。"))
    if reservation is not None:
        campaign = campaign or reservation.campaign
        ticket = ticket or reservation.ticket
        site = site or reservation.slot.operating_day.site
        if reservation.resident_id != resident.pk:
            raise VaccinationInvalid(_("予約と接種者が一致しません。"))
    with transaction.atomic():
        # Lock the person: two staff recording the same dose at once must not both succeed.
        Resident.objects.select_for_update().get(pk=resident.pk)
        history = [
            h
            for h in dose_history(
                resident=resident,
                exclude_reservation_ids=[reservation.pk] if reservation else [],
            )
            if not h.planned
        ]
        same_antigen = [h for h in history if h.antigen == vaccine.antigen]
        latest = max((h.on for h in same_antigen), default=None)
        if latest is not None and vaccinated_on < latest:
            raise VaccinationInvalid(
                _("前回の接種日（%(date)s）より前の日付は登録できません。")
                % {"date": latest.isoformat()}
            )
        if campaign is not None:
            expected = next_dose_number(campaign=campaign, history=history)
        else:
            expected = max((h.dose_number for h in same_antigen), default=0) + 1
        if dose_number is None:
            dose_number = expected
        elif dose_number != expected:
            raise VaccinationInvalid(
                _("接種回数が履歴と合いません（履歴からは%(expected)s回目です）。")
                % {"expected": expected}
            )
        if campaign is not None and outcome == Vaccination.Outcome.VACCINATED:
            allowed_reason = (
                override_reason if requester.has_perm("reservations.override_interval") else ""
            )
            try:
                check_dose(
                    person=person_for(resident),
                    campaign=campaign,
                    vaccine=vaccine,
                    dose_number=dose_number,
                    on=vaccinated_on,
                    booked_on=vaccinated_on,
                    history=history,
                    rules=rulebook_for(
                        municipality_id=resident.municipality_id,
                        campaign=campaign,
                        antigen=vaccine.antigen,
                    ),
                    override_reason=allowed_reason,
                )
            except NotEligible:
                if not allowed_reason:
                    raise
        record = Vaccination.objects.create(
            resident=resident,
            reservation=reservation,
            ticket=ticket,
            campaign=campaign,
            vaccine=vaccine,
            antigen=vaccine.antigen,
            dose_number=dose_number,
            vaccinated_on=vaccinated_on,
            vaccinated_at=vaccinated_at,
            outcome=outcome,
            lot_number=lot_number,
            site=site,
            site_name=site.name if site else "",
            doctor_name=doctor_name,
            source=source,
            override_reason=override_reason,
            recorded_by=requester.staff_user,
        )
        if reservation is not None:
            _close_reservation(
                reservation, outcome=outcome, requester=requester, now=now, record=record
            )
    return record


def _close_reservation(
    reservation: Reservation,
    *,
    outcome: str,
    requester: Requester,
    now: dt.datetime,
    record: Vaccination,
) -> None:
    current = Reservation.objects.select_for_update().get(pk=reservation.pk)
    if current.status not in (Reservation.Status.CONFIRMED, Reservation.Status.NO_SHOW):
        raise InvalidStateTransition()
    if outcome == Vaccination.Outcome.VACCINATED:
        # The seat was used: it stays counted in Slot.booked.
        current.status = Reservation.Status.VACCINATED
        current.save(update_fields=["status", "updated_at"])
        event_record(current, ReservationEvent.Kind.VACCINATED, requester, vaccination=record.pk)
        return
    # Examined but not vaccinated: the booking ends so the person can book again; the seat of a
    # slot that has happened is of no use to anyone, so it is released only for counting.
    reservation_end(
        current,
        reason=Reservation.CancelReason.NOT_VACCINATED,
        requester=requester,
        now=now,
        vaccination=record.pk,
    )
