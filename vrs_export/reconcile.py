"""Reading a VRS ledger back: import doses given elsewhere, find bookings they make redundant.

In 2021 cities found that a fifth of the people vaccinated at the national centres still held
a local booking, and cancelled them by hand. This does it from the ledger file VRS hands the
municipality: for each person, doses we do not know are imported (source VRS) and a booking
for a dose already given elsewhere is cancelled through the core, which writes the
ReservationEvent the notification outbox sends to the resident.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.csv_safety import control_character, control_character_message
from reservations.exceptions import ReservationError
from reservations.identifiers import is_valid_municipality_code
from reservations.models import (
    Actor,
    Antigen,
    Channel,
    Municipality,
    Reservation,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.services.booking import Requester, reservation_cancel
from reservations.services.vaccinations import vaccination_import_external
from vrs_export.formats import (
    LEDGER_BLOCK_FIELDS,
    ledger_header,
    parse_date8,
    parse_timestamp14,
)


class LedgerUnreadable(ValueError):
    pass


@dataclass(frozen=True)
class LedgerDose:
    dose_number: int
    registered: str
    vaccinated_on: str
    ticket_number: str
    given_in: str
    site_name: str
    doctor_name: str
    maker: str
    lot_number: str


@dataclass
class ReconcileReport:
    rows: int = 0
    known: int = 0
    imported: int = 0
    conflicts: list[str] = field(default_factory=list)
    double_bookings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.imported or self.double_bookings)


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when it decodes, else CP932, the two VRS-era encodings."""
    with path.open("rb") as handle:
        head = handle.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        decoder = codecs.getincrementaldecoder("utf-8")()
        handle.seek(0)
        try:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp932"
    return "utf-8"


def _refuse_control_characters(path: Path, encoding: str) -> None:
    """A whole pass before the first row: reconciling writes person by person, so a NUL found
    half-way would leave half the file applied. NUL and other control characters are never
    part of a VRS file (and PostgreSQL cannot store NUL); the line is named."""
    with path.open(encoding=encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            char = control_character(line)
            if char is not None:
                raise LedgerUnreadable(
                    _("%(line)s行目: %(problem)s")
                    % {"line": number, "problem": control_character_message(char)}
                )


def read_ledger(path: Path, encoding: str) -> Iterator[tuple[int, str, list[LedgerDose]]]:
    """Yield (line number, 個別宛名番号, dose blocks with data) row by row; nothing at all
    when a line holds a control character (LedgerUnreadable before the first row)."""
    _refuse_control_characters(path, encoding)
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise LedgerUnreadable(_("ファイルが空です。"))
        width = len(LEDGER_BLOCK_FIELDS)
        blocks = (len(header) - 1) // width
        if blocks < 1 or header != ledger_header(blocks):
            raise LedgerUnreadable(
                _("予防接種台帳向け出力の見出し行ではありません（1列目: %(first)s）。")
                % {"first": header[0] if header else ""}
            )
        for row in reader:
            if len(row) != len(header):
                raise LedgerUnreadable(
                    _("%(line)s行目の列数が見出しと違います。") % {"line": reader.line_num}
                )
            doses = []
            for index in range(blocks):
                block = row[1 + index * width : 1 + (index + 1) * width]
                if any(block):
                    doses.append(LedgerDose(index + 1, *block))
            yield reader.line_num, row[0], doses


def _vaccine_for(maker: str) -> Vaccine | None:
    return (
        Vaccine.objects.filter(vrs_maker_label=maker, antigen=Antigen.COVID19)
        .order_by("code")
        .first()
    )


def _resident_ticket(
    municipality: Municipality, atena: str, doses: list[LedgerDose]
) -> Ticket | None:
    numbers = {d.ticket_number for d in doses}
    tickets = list(
        Ticket.objects.filter(municipality=municipality, number__in=numbers).select_related(
            "resident"
        )
    )
    people = {t.resident_id for t in tickets}
    if atena:
        people |= set(
            municipality.residents.filter(atena_number=atena).values_list("pk", flat=True)
        )
    if len(people) != 1 or not tickets:
        return None
    return tickets[0]


def _reconcile_person(
    *,
    ticket: Ticket,
    doses: list[LedgerDose],
    line: int,
    report: ReconcileReport,
    requester: Requester,
    apply: bool,
) -> None:
    resident = ticket.resident
    for dose in doses:
        where = _("%(line)s行目 %(n)s回目（券番号 %(ticket)s）") % {
            "line": line,
            "n": dose.dose_number,
            "ticket": dose.ticket_number,
        }
        vaccinated_on = parse_date8(dose.vaccinated_on)
        existing = Vaccination.objects.filter(
            resident=resident,
            antigen=Antigen.COVID19,
            status=Vaccination.Status.ACTIVE,
            outcome=Vaccination.Outcome.VACCINATED,
            dose_number=dose.dose_number,
        ).first()
        if existing is not None:
            if existing.vaccinated_on == vaccinated_on:
                report.known += 1
            else:
                # Never overwritten from a file: a confirmed or corrected record stays ours
                # until staff correct it explicitly.
                report.conflicts.append(
                    _("%(where)s: VRSは%(theirs)s、本システムは%(ours)s")
                    % {
                        "where": where,
                        "theirs": vaccinated_on.isoformat(),
                        "ours": existing.vaccinated_on.isoformat(),
                    }
                )
                continue
        else:
            vaccine = _vaccine_for(dose.maker)
            if vaccine is None:
                raise ValueError(
                    _("ワクチンメーカー「%(maker)s」に当たるワクチンがありません")
                    % {"maker": dose.maker}
                )
            if not is_valid_municipality_code(dose.given_in):
                raise ValueError(_("接種自治体コードが正しくありません"))
            vaccination_import_external(
                ticket=ticket,
                vaccine=vaccine,
                dose_number=dose.dose_number,
                vaccinated_on=vaccinated_on,
                registered_at=parse_timestamp14(dose.registered),
                given_in_municipality_code=dose.given_in,
                site_name=dose.site_name,
                doctor_name=dose.doctor_name,
                lot_number=dose.lot_number,
                requester=requester,
            )
            report.imported += 1
        still_booked = Reservation.objects.filter(
            resident=resident,
            dose_number=dose.dose_number,
            vaccine__antigen=Antigen.COVID19,
            status__in=Reservation.ACTIVE_STATUSES,
        ).select_related("slot")
        for booking in still_booked:
            report.double_bookings.append(
                _("%(where)s: 予約番号 %(code)s（%(when)s）")
                % {
                    "where": where,
                    "code": booking.code,
                    "when": timezone.localtime(booking.slot.starts_at).strftime("%Y-%m-%d %H:%M"),
                }
            )
            if apply:
                reservation_cancel(
                    reservation=booking,
                    requester=requester,
                    reason=Reservation.CancelReason.VACCINATED_ELSEWHERE,
                )


def vrs_reconcile(
    *,
    path: Path,
    municipality: Municipality,
    apply: bool,
    user: Any = None,
    encoding: str | None = None,
) -> ReconcileReport:
    """Compare a VRS ledger with our records. Without `apply` every change is rolled back, so
    the report says exactly what applying would do. Each person is one transaction."""
    requester = Requester(channel=Channel.COUNTER, actor=Actor.OPERATOR, user=user)
    report = ReconcileReport()
    rows = read_ledger(path, encoding or detect_encoding(path))
    for line, atena, doses in rows:
        report.rows += 1
        if not doses:
            continue
        ticket = _resident_ticket(municipality, atena, doses)
        if ticket is None:
            report.problems.append(
                _("%(line)s行目: 券番号・宛名番号に当たる住民が見つからないか、一人に定まりません")
                % {"line": line}
            )
            continue
        person = ReconcileReport()
        try:
            with transaction.atomic():
                _reconcile_person(
                    ticket=ticket,
                    doses=doses,
                    line=line,
                    report=person,
                    requester=requester,
                    apply=apply,
                )
                if not apply:
                    transaction.set_rollback(True)
        except (ReservationError, ValueError) as error:
            message = getattr(error, "message", None) or str(error)
            report.problems.append(
                _("%(line)s行目: %(problem)s") % {"line": line, "problem": message}
            )
            continue
        report.known += person.known
        report.imported += person.imported
        report.conflicts += person.conflicts
        report.double_bookings += person.double_bookings
    return report
