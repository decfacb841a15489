"""Recording administered doses. Records are right when made: VRS ended 2021 with ~5% of its
records needing correction (dose 2 before dose 1, future dates, wrong tickets)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from reservations.csv_safety import control_character, formula_start_problem
from reservations.exceptions import (
    InvalidStateTransition,
    NotEligible,
    PermissionDenied,
    ReasonRequired,
    VaccinationInvalid,
)
from reservations.identifiers import is_valid_municipality_code
from reservations.models import (
    Antigen,
    Campaign,
    DayLot,
    OperatingDay,
    Reservation,
    ReservationEvent,
    Resident,
    Site,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.selectors import dose_check, dose_history, next_dose_number, person_for
from reservations.services.events import event_record
from reservations.services.requester import Requester
from reservations.services.seats import reservation_end


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
    copay_category: str = "",
    now: dt.datetime | None = None,
) -> Vaccination:
    """Record one dose (or a visit that ended without one) and close its reservation.

    Refuses a future date, a date before the previous dose, a dose number that does not follow
    the history, and an interval the rules forbid, unless `override_reason` is given by staff
    allowed to override intervals (the reason is kept on the record). `copay_category` is the
    自己負担区分 code (blank: not recorded; the register export then refuses the dose).
    """
    now = now or timezone.now()
    _check_date(vaccinated_on, antigen=vaccine.antigen, now=now)
    _check_copay_category(copay_category)
    if outcome == Vaccination.Outcome.VACCINATED:
        lot_number = lot_number_clean(lot_number, required=False)
    doctor_name = _check_vrs_text(doctor_name.strip(), VRS_DOCTOR_NAME_LENGTH, _("医師名"))
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
        if (
            latest is not None
            and vaccinated_on == latest
            and outcome == Vaccination.Outcome.VACCINATED
        ):
            raise VaccinationInvalid(
                _("前回の接種と同じ日（%(date)s）に次の回は登録できません。")
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
                dose_check(
                    person=person_for(resident),
                    campaign=campaign,
                    vaccine=vaccine,
                    dose_number=dose_number,
                    on=vaccinated_on,
                    booked_on=vaccinated_on,
                    history=history,
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
            site_name=(site.vrs_name or site.name) if site else "",
            given_in_municipality_code=site.municipality.code if site else "",
            doctor_name=doctor_name,
            copay_category=copay_category,
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


# --- Entry checks shared by recording, corrections and imports ---------------------------------

# VRS field lengths (予防接種台帳向け出力, vrs.md §2c): checked when a record is made, so an export
# never has to refuse (or worse, truncate) what staff typed weeks earlier.
VRS_SITE_NAME_LENGTH = 30
VRS_DOCTOR_NAME_LENGTH = 20
VRS_LOT_NUMBER_LENGTH = 20
# The first COVID-19 dose given in Japan; an earlier date is a typing error.
FIRST_COVID_DOSE_DATE = dt.date(2021, 2, 17)
# Not starting with "-": exported files would carry it into a spreadsheet as a formula.
_LOT_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$")


def lot_number_clean(value: str, *, required: bool = True) -> str:
    """NFKC-fold a lot number (ＦＦ３６２０ → FF3620) and check it is what VRS accepts."""
    folded = unicodedata.normalize("NFKC", value).strip()
    if not folded and not required:
        return ""
    if not _LOT_NUMBER.match(folded):
        raise VaccinationInvalid(
            _("ロット番号は英数字で始まる英数字とハイフン20文字以内です（入力: %(value)s）。")
            % {"value": value}
        )
    return folded


def _check_vrs_text(value: str, limit: int, label: Promise | str) -> str:
    """A free-text field of the VRS layout (doctor, site): its length, and nothing a file or
    a spreadsheet would misread. The layout is fixed, so a name that starts like a formula is
    refused here rather than neutralised in the export (reservations.csv_safety)."""
    if len(value) > limit:
        raise VaccinationInvalid(
            _("%(label)sは%(limit)s文字以内で入力してください。") % {"label": label, "limit": limit}
        )
    if control_character(value) is not None:
        raise VaccinationInvalid(_("%(label)sに制御文字は使えません。") % {"label": label})
    problem = formula_start_problem(value, label)
    if problem is not None:
        raise VaccinationInvalid(problem)
    return value


def _check_copay_category(value: str) -> None:
    if value and value not in Vaccination.CopayCategory.values:
        raise VaccinationInvalid(
            _("自己負担区分は1〜5のいずれかです（入力: %(value)s）。") % {"value": value}
        )


def _check_date(on: dt.date, *, antigen: str, now: dt.datetime) -> None:
    if on > timezone.localdate(now):
        raise VaccinationInvalid(_("接種日に未来の日付は登録できません。"))
    if antigen == Antigen.COVID19 and on < FIRST_COVID_DOSE_DATE:
        raise VaccinationInvalid(
            _("新型コロナワクチンの接種日は%(date)s以降です。")
            % {"date": FIRST_COVID_DOSE_DATE.isoformat()}
        )


def _check_between_neighbours(
    *, resident_id: int, antigen: str, dose_number: int, on: dt.date, record_id: uuid.UUID
) -> None:
    """A dose's date must lie strictly after the dose before it and before the dose after it."""
    neighbours = Vaccination.objects.filter(
        resident_id=resident_id,
        antigen=antigen,
        status=Vaccination.Status.ACTIVE,
        outcome=Vaccination.Outcome.VACCINATED,
        dose_number__in=[dose_number - 1, dose_number + 1],
    ).exclude(record_id=record_id)
    for other in neighbours:
        if other.dose_number < dose_number and not other.vaccinated_on < on:
            raise VaccinationInvalid(
                _("%(n)s回目の接種日（%(date)s）より後の日付にしてください。")
                % {"n": other.dose_number, "date": other.vaccinated_on.isoformat()}
            )
        if other.dose_number > dose_number and not on < other.vaccinated_on:
            raise VaccinationInvalid(
                _("%(n)s回目の接種日（%(date)s）より前の日付にしてください。")
                % {"n": other.dose_number, "date": other.vaccinated_on.isoformat()}
            )


# --- Corrections (訂正) and cancellations (取消) --------------------------------------------------


def _lock_current(record: Vaccination, requester: Requester) -> Vaccination:
    if not requester.has_perm("reservations.correct_vaccination"):
        raise PermissionDenied()
    # Lock the active version: two staff correcting the same record at once would otherwise
    # both write version n+1 (the unique (record_id, version) would stop the second, but late).
    current = (
        Vaccination.objects.select_for_update()
        .filter(record_id=record.record_id, status=Vaccination.Status.ACTIVE)
        .first()
    )
    if current is None:
        raise VaccinationInvalid(_("この接種記録はすでに取り消されています。"))
    if current.pk != record.pk:
        raise VaccinationInvalid(
            _("この接種記録は別の職員が先に訂正しました（最新は第%(version)s版）。")
            % {"version": current.version}
        )
    if current.confirmed and not requester.has_perm("reservations.confirm_vaccination"):
        raise VaccinationInvalid(
            _("自治体確認済みの記録です。訂正は確認の権限を持つ職員が行ってください。")
        )
    return current


def _new_version(
    current: Vaccination, *, requester: Requester, reason: str, status: str
) -> Vaccination:
    Vaccination.objects.filter(pk=current.pk).update(status=Vaccination.Status.SUPERSEDED)
    successor = Vaccination.objects.get(pk=current.pk)
    successor.pk = None
    successor.version = current.version + 1
    successor.status = status
    successor.supersedes = current
    successor.change_reason = reason
    successor.recorded_by = requester.staff_user
    # A correction is new information the municipality has not seen: it must confirm again.
    successor.confirmed = False
    successor._state.adding = True
    successor.save(force_insert=True)
    return successor


def vaccination_correct(
    *,
    record: Vaccination,
    requester: Requester,
    reason: str,
    vaccinated_on: dt.date | None = None,
    vaccinated_at: dt.datetime | None = None,
    lot_number: str | None = None,
    doctor_name: str | None = None,
    copay_category: str | None = None,
    now: dt.datetime | None = None,
) -> Vaccination:
    """Correct a recorded dose: writes version n+1 with the reason; version n stays as it was.

    Exports then carry it as 訂正 (処理区分 2). A record the municipality confirmed can only be
    corrected by staff allowed to confirm records, and the new version needs confirming again.
    """
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ReasonRequired()
    if copay_category is not None:
        _check_copay_category(copay_category)
    with transaction.atomic():
        current = _lock_current(record, requester)
        on = vaccinated_on or current.vaccinated_on
        _check_date(on, antigen=current.antigen, now=now)
        _check_between_neighbours(
            resident_id=current.resident_id,
            antigen=current.antigen,
            dose_number=current.dose_number,
            on=on,
            record_id=current.record_id,
        )
        changed = {
            "vaccinated_on": on,
            "vaccinated_at": vaccinated_at if vaccinated_at is not None else current.vaccinated_at,
            "lot_number": (
                lot_number_clean(lot_number) if lot_number is not None else current.lot_number
            ),
            "doctor_name": _check_vrs_text(
                doctor_name.strip() if doctor_name is not None else current.doctor_name,
                VRS_DOCTOR_NAME_LENGTH,
                _("医師名"),
            ),
            # A dose recorded before 自己負担区分 existed gets it by a correction like any field.
            "copay_category": (
                copay_category if copay_category is not None else current.copay_category
            ),
        }
        if all(getattr(current, name) == value for name, value in changed.items()):
            raise VaccinationInvalid(_("訂正する内容がありません。"))
        successor = _new_version(
            current, requester=requester, reason=reason, status=Vaccination.Status.ACTIVE
        )
        for name, value in changed.items():
            setattr(successor, name, value)
        successor.save(update_fields=list(changed))
    return successor


def vaccination_cancel(
    *, record: Vaccination, requester: Requester, reason: str, now: dt.datetime | None = None
) -> Vaccination:
    """Cancel a recorded dose (取消, e.g. recorded for the wrong person): writes a final version
    with status cancelled. A later dose of the same person blocks it: fix that one first."""
    reason = reason.strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        current = _lock_current(record, requester)
        later = Vaccination.objects.filter(
            resident_id=current.resident_id,
            antigen=current.antigen,
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
            dose_number__gt=current.dose_number,
        ).exists()
        if later and current.outcome == Vaccination.Outcome.VACCINATED:
            raise VaccinationInvalid(
                _("後の回の接種記録があるため取り消せません。後の回から訂正してください。")
            )
        return _new_version(
            current, requester=requester, reason=reason, status=Vaccination.Status.CANCELLED
        )


def vaccination_confirm(*, record_ids: list[uuid.UUID], requester: Requester) -> int:
    """Mark the active versions of these records as confirmed by the municipality (locked)."""
    if not requester.has_perm("reservations.confirm_vaccination"):
        raise PermissionDenied()
    return Vaccination.objects.filter(
        record_id__in=record_ids, status=Vaccination.Status.ACTIVE
    ).update(confirmed=True)


# --- Doses given elsewhere (VRS reconciliation) --------------------------------------------------


def vaccination_import_external(
    *,
    resident: Resident,
    ticket: Ticket | None,
    vaccine: Vaccine,
    vaccinated_on: dt.date,
    registered_at: dt.datetime | None,
    given_in_municipality_code: str,
    site_name: str,
    doctor_name: str,
    lot_number: str,
    requester: Requester,
    reported_dose_number: int | None = None,
    campaign: Campaign | None = None,
    now: dt.datetime | None = None,
) -> Vaccination:
    """Store a dose another system knows and we do not (given at another venue or municipality).

    Same date checks as our own doses; interval rules are not re-judged, the dose has happened.
    The dose must come after the person's latest dose of the antigen: placing it earlier would
    renumber doses we recorded (and the municipality may have confirmed), which is a correction
    for staff, not for a file. The number is counted as ours are (per antigen, or per campaign
    for a programme that counts by season); the other system's number is a check, not the key:
    when it is ahead of ours (our history starts later than the national one) the record takes
    it, so the next booking counts on from there; when it is behind, ours stands. The caller
    compares `reported_dose_number` with the result to report the difference.
    """
    now = now or timezone.now()
    _check_date(vaccinated_on, antigen=vaccine.antigen, now=now)
    if not is_valid_municipality_code(given_in_municipality_code):
        raise VaccinationInvalid(
            _("接種自治体コードが正しくありません: %(code)s") % {"code": given_in_municipality_code}
        )
    with transaction.atomic():
        # Lock the person, as vaccination_record does: an import and a venue entry of the same
        # dose must not both land.
        person = Resident.objects.select_for_update().get(pk=resident.pk)
        given = Vaccination.objects.filter(
            resident=person,
            antigen=vaccine.antigen,
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
        )
        latest = given.aggregate(on=Max("vaccinated_on"))["on"]
        if latest is not None and not latest < vaccinated_on:
            raise VaccinationInvalid(
                _(
                    "本システムの最新の接種（%(date)s）より前か同じ日の接種は取り込めません。"
                    "回数の振り直しが必要なため、記録の訂正で対応してください。"
                )
                % {"date": latest.isoformat()}
            )
        counted = given
        if campaign is not None and not campaign.program.cumulative_dose_numbers:
            counted = given.filter(campaign=campaign)
        expected = (counted.aggregate(n=Max("dose_number"))["n"] or 0) + 1
        dose_number = max(expected, reported_dose_number or 0)
        return Vaccination.objects.create(
            resident=person,
            ticket=ticket,
            campaign=campaign,
            vaccine=vaccine,
            antigen=vaccine.antigen,
            dose_number=dose_number,
            vaccinated_on=vaccinated_on,
            outcome=Vaccination.Outcome.VACCINATED,
            lot_number=lot_number_clean(lot_number, required=False),
            site_name=_check_vrs_text(site_name, VRS_SITE_NAME_LENGTH, _("接種会場名")),
            given_in_municipality_code=given_in_municipality_code,
            doctor_name=_check_vrs_text(doctor_name, VRS_DOCTOR_NAME_LENGTH, _("医師名")),
            source=Vaccination.Source.VRS_IMPORT,
            registered_at=registered_at,
            recorded_by=requester.staff_user,
        )


def day_lot_add(
    *, operating_day: OperatingDay, lot_number: str, vials_opened: int, requester: Requester
) -> DayLot:
    """Put a lot on the day's list (or add vials to it when it is already there)."""
    if not requester.has_perm("reservations.add_daylot"):
        raise PermissionDenied()
    lot_number = lot_number_clean(lot_number)
    if vials_opened < 0:
        raise VaccinationInvalid(_("バイアル数は0以上で入力してください。"))
    with transaction.atomic():
        lot, _created = DayLot.objects.get_or_create(
            operating_day=operating_day, lot_number=lot_number
        )
        # One UPDATE, so two stations opening vials at once both count.
        DayLot.objects.filter(pk=lot.pk).update(vials_opened=F("vials_opened") + vials_opened)
    lot.refresh_from_db()
    return lot
