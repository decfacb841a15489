"""Reads for the reception desk: the day's bookings, lookups by what staff type or scan, vials."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from reservations.identifiers import (
    IdentifierError,
    is_valid_reservation_code,
    looks_like_ocr_line,
    normalize_number_input,
    normalize_ticket_number,
    parse_ocr_line,
)
from reservations.models import (
    DayLot,
    OperatingDay,
    Reservation,
    Ticket,
    Vaccination,
)
from reservations.selectors import ticket_may_book_in
from reservations.staff_scope import StaffScope


def operating_days_on(date: dt.date, *, scope: StaffScope) -> QuerySet[OperatingDay]:
    """The days at the sites this member of staff works for (a clinic's staff: their site)."""
    return (
        OperatingDay.objects.filter(date=date)
        .filter(scope.site_q("site"))
        .select_related("site", "vaccine", "campaign")
        .order_by("site__name", "vaccine__name")
    )


def operating_day_in_scope(day_id: int, *, scope: StaffScope) -> OperatingDay | None:
    """One day, if it is at a site in scope: every venue page starts here, and what hangs under
    a day (bookings, records, lots) is reached only through it. None for a day of another
    municipality or another clinic, as for one that does not exist."""
    return (
        OperatingDay.objects.filter(pk=day_id)
        .filter(scope.site_q("site"))
        .select_related("site__municipality", "vaccine", "campaign__program")
        .first()
    )


def day_reservations(day: OperatingDay) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(slot__operating_day=day)
        .exclude(status=Reservation.Status.CANCELLED)
        .select_related("resident", "ticket", "slot")
        .order_by("slot__starts_at", "resident__name_kana", "pk")
    )


@dataclass(frozen=True)
class Found:
    """What a typed or scanned value led to: a booking on this day, or a ticket to walk in."""

    reservation: Reservation | None = None
    ticket: Ticket | None = None


def find_for_reception(*, day: OperatingDay, query: str) -> Found:
    """Resolve 予約番号, the 18-digit OCR/QR line, or a 10-digit ticket number.

    The OCR line carries its municipality; a bare ticket number is looked up in the site's
    municipality, where the ticket was issued. Only tickets this day may serve are found: its
    municipality's, or those of a municipality whose residents it accepts (住所地外接種); any
    other is "not registered", so the desk of one city learns nothing of another's tickets.
    Raises IdentifierError with a message for staff.
    """
    digits = normalize_number_input(query)
    if len(digits) == 9 and is_valid_reservation_code(digits):
        reservation = day_reservations(day).filter(code=digits).first()
        if reservation is None:
            raise IdentifierError("not_found", _NOT_TODAY)
        return Found(reservation=reservation)
    if looks_like_ocr_line(digits):
        line = parse_ocr_line(digits)
        ticket = Ticket.objects.filter(
            municipality__code=line.municipality_code, number=line.ticket_number
        ).first()
    else:
        ticket = Ticket.objects.filter(
            municipality_id=day.site.municipality_id, number=normalize_ticket_number(digits)
        ).first()
    if ticket is None or not ticket_may_book_in(
        slot_municipality_id=day.site.municipality_id,
        ticket_municipality_id=ticket.municipality_id,
    ):
        raise IdentifierError("not_found", _NO_TICKET)
    booking = (
        day_reservations(day)
        .filter(resident_id=ticket.resident_id)
        .filter(Q(status=Reservation.Status.CONFIRMED) | Q(status=Reservation.Status.NO_SHOW))
        .first()
    )
    if booking is not None:
        return Found(reservation=booking)
    if ticket.status != Ticket.Status.ISSUED:
        raise IdentifierError("ticket_void", _TICKET_VOID)
    return Found(ticket=ticket)


def walk_in_ticket(day: OperatingDay, ticket_id: int) -> Ticket | None:
    """The ticket a walk-in reference names, if it is still valid and this day may serve it
    (find_for_reception's rule, checked again: the ticket may have been voided, or an
    acceptance between municipalities ended, since the find step)."""
    ticket = (
        Ticket.objects.select_related("resident", "municipality")
        .filter(pk=ticket_id, status=Ticket.Status.ISSUED)
        .first()
    )
    if ticket is None or not ticket_may_book_in(
        slot_municipality_id=day.site.municipality_id,
        ticket_municipality_id=ticket.municipality_id,
    ):
        return None
    return ticket


@dataclass(frozen=True)
class VialCount:
    doses_per_vial: int
    vials_opened: int
    doses_given: int

    @property
    def doses_available(self) -> int:
        return self.doses_per_vial * self.vials_opened

    @property
    def doses_left(self) -> int:
        return self.doses_available - self.doses_given


def day_doses(day: OperatingDay) -> QuerySet[Vaccination]:
    return Vaccination.objects.filter(
        site=day.site,
        vaccinated_on=day.date,
        vaccine=day.vaccine,
        status=Vaccination.Status.ACTIVE,
        outcome=Vaccination.Outcome.VACCINATED,
        source=Vaccination.Source.OUR_SITE,
    )


def vial_count(day: OperatingDay) -> VialCount:
    opened = DayLot.objects.filter(operating_day=day).aggregate(n=Sum("vials_opened"))["n"]
    return VialCount(
        doses_per_vial=day.vaccine.doses_per_vial,
        vials_opened=opened or 0,
        doses_given=day_doses(day).count(),
    )


def day_lots(day: OperatingDay) -> list[tuple[DayLot, int]]:
    given = dict(
        day_doses(day).values("lot_number").annotate(n=Count("pk")).values_list("lot_number", "n")
    )
    return [(lot, given.get(lot.lot_number, 0)) for lot in DayLot.objects.filter(operating_day=day)]


def status_counts(day: OperatingDay) -> dict[str, int]:
    """Bookings of the day by status, labelled for display."""
    rows = day_reservations(day).order_by().values("status").annotate(n=Count("pk"))
    return {str(Reservation.Status(row["status"]).label): row["n"] for row in rows}


def day_list_dates(today: dt.date) -> tuple[dt.date, dt.date]:
    """The days whose booking lists the venue may print or download: today, to work from, and
    tomorrow, to prepare. Older and later lists are personal data the desk has no use for."""
    return today, today + dt.timedelta(days=1)


def operating_days_at(*, site_id: int, date: dt.date) -> QuerySet[OperatingDay]:
    return (
        OperatingDay.objects.filter(site_id=site_id, date=date)
        .select_related("site", "vaccine")
        .order_by("vaccine__name", "pk")
    )


def day_records(day: OperatingDay) -> QuerySet[Vaccination]:
    """What the venue recorded on this day (doses and visits that ended without one), current
    versions only: the list a correction starts from, walk-ins included."""
    return (
        Vaccination.objects.filter(
            site=day.site,
            vaccinated_on=day.date,
            vaccine=day.vaccine,
            status=Vaccination.Status.ACTIVE,
            source=Vaccination.Source.OUR_SITE,
        )
        .select_related("resident")
        .order_by("vaccinated_at", "pk")
    )


def _recorded_on(day: OperatingDay) -> QuerySet[Vaccination]:
    """Every version of every record written at this day (its site, date and vaccine)."""
    return Vaccination.objects.filter(
        site_id=day.site_id,
        vaccinated_on=day.date,
        vaccine_id=day.vaccine_id,
        source=Vaccination.Source.OUR_SITE,
    )


def record_is_of_day(day: OperatingDay, record_id: uuid.UUID) -> bool:
    """Whether a dose record belongs to this day: one of its versions was written at the day's
    site, on its date, for its vaccine. Any version, so that a correction of the date or the
    vaccine does not move the record out of reach of the day it was given on."""
    return _recorded_on(day).filter(record_id=record_id).exists()


def record_versions(day: OperatingDay, record_id: uuid.UUID) -> list[Vaccination]:
    """Every version of one dose record of this day (record_is_of_day), first to last (the
    trail of its corrections). Empty for a record of another day, city or clinic."""
    if not record_is_of_day(day, record_id):
        return []
    return list(
        Vaccination.objects.filter(record_id=record_id)
        .select_related("resident", "vaccine", "site", "recorded_by", "ticket__municipality")
        .order_by("version")
    )


def record_version(day: OperatingDay, record_id: uuid.UUID, version: int) -> Vaccination | None:
    """One version of a record of this day (record_is_of_day), None otherwise."""
    if not record_is_of_day(day, record_id):
        return None
    return (
        Vaccination.objects.filter(record_id=record_id, version=version)
        .select_related("resident")
        .first()
    )


def record_current(day: OperatingDay, record_id: uuid.UUID) -> Vaccination | None:
    """The active version of a record of this day (record_is_of_day), None when it was
    cancelled (or is not the day's)."""
    if not record_is_of_day(day, record_id):
        return None
    return (
        Vaccination.objects.filter(record_id=record_id, status=Vaccination.Status.ACTIVE)
        .select_related("resident")
        .first()
    )


def history_days(history: list[Vaccination], *, scope: StaffScope) -> dict[uuid.UUID, int]:
    """For a resident's history on the record page: the day (at a site in scope) each record
    was written at, whose correction page it opens through; records given elsewhere (another
    municipality, another clinic, imported) have none and no link."""
    ours = [v for v in history if v.site_id is not None and v.source == Vaccination.Source.OUR_SITE]
    if not ours:
        return {}
    days = OperatingDay.objects.filter(scope.site_q("site")).filter(
        site_id__in={v.site_id for v in ours}, date__in={v.vaccinated_on for v in ours}
    )
    by_key: dict[tuple[int | None, dt.date, int], int] = {
        (d.site_id, d.date, d.vaccine_id): d.pk for d in days
    }
    found: dict[uuid.UUID, int] = {}
    for v in ours:
        day_id = by_key.get((v.site_id, v.vaccinated_on, v.vaccine_id))
        if day_id is not None:
            found.setdefault(v.record_id, day_id)
    return found


def record_day_lots(record: Vaccination) -> list[str]:
    """The lots opened on the day and at the site the dose was given (suggestions for a
    correction), in the order they were added."""
    if record.site_id is None:
        return []  # given elsewhere (imported): our venues' lots say nothing about it
    return list(
        DayLot.objects.filter(
            operating_day__site_id=record.site_id,
            operating_day__date=record.vaccinated_on,
            operating_day__vaccine_id=record.vaccine_id,
        )
        .order_by("pk")
        .values_list("lot_number", flat=True)
    )


_NOT_TODAY = _("この予約番号の本日（この会場）の予約は見つかりません。")
_NO_TICKET = _("この接種券は登録されていません。券番号・市町村をご確認ください。")
_TICKET_VOID = _("この接種券は無効です（再発行・転出など）。新しい接種券をご確認ください。")
