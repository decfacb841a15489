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


def operating_days_on(date: dt.date) -> QuerySet[OperatingDay]:
    return (
        OperatingDay.objects.filter(date=date)
        .select_related("site", "vaccine", "campaign")
        .order_by("site__name", "vaccine__name")
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
    municipality, where the ticket was issued. Raises IdentifierError with a message for staff.
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
    if ticket is None:
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


def record_versions(record_id: uuid.UUID) -> list[Vaccination]:
    """Every version of one dose record, first to last (the trail of its corrections)."""
    return list(
        Vaccination.objects.filter(record_id=record_id)
        .select_related("resident", "vaccine", "site", "recorded_by", "ticket__municipality")
        .order_by("version")
    )


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
