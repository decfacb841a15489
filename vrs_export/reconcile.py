"""Reading a VRS ledger (or a 予防接種台帳 file) back against our records.

In 2021 cities found that a fifth of the people vaccinated at the national centres still held
a local booking, and cancelled them by hand. This does it from the file: for each person, a
dose we do not know is imported (source VRS/台帳), and a booking that dose makes redundant is
cancelled through the core, which writes the ReservationEvent the notification outbox sends to
the resident.

Doses are matched by what happened (person, date, vaccine), never by the dose counter: in a
routine season our count starts at the season while VRS counts every dose since 2021, so its
7th dose is our season's 1st. The numbers are compared as a check and a difference is a finding
to review. Nothing in a readable file refuses the file: a row that cannot be placed is listed,
the others go on. What the reader had to assume about the file (its encoding, line endings,
header variant, missing header) is reported with the result.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.csv_safety import control_character, control_character_message
from reservations.exceptions import ReservationError
from reservations.identifiers import IdentifierError, is_valid_municipality_code
from reservations.models import (
    Actor,
    Antigen,
    Campaign,
    Channel,
    Municipality,
    Program,
    Reservation,
    Resident,
    Ticket,
    Vaccination,
    Vaccine,
)
from reservations.services.booking import Requester, reservation_cancel
from reservations.services.vaccinations import vaccination_import_external
from reservations.staff_scope import staff_scope
from vrs_export.formats import (
    LEDGER_BLOCK_FIELDS,
    LEDGER_FIRST_COLUMN,
    REGISTER_HEADER,
    parse_date8,
    parse_timestamp14,
)
from vrs_export.models import ReconcileRun

# Two doses of one antigen closer than this cannot both be real: the shortest interval any
# schedule uses is 13 days (children's two influenza doses, "2〜4週"). A file dose this close to
# one of ours on another date is the same dose recorded differently: a conflict for a person.
SAME_DOSE_WINDOW = dt.timedelta(days=13)
# How many sentences of each kind a run keeps in the audit (all are shown to the caller).
REPORT_LINES_KEPT = 500
# A preview's file is kept for applying it; after this long the person must upload it again.
PREVIEW_VALID_FOR = dt.timedelta(hours=2)


class LedgerUnreadable(ValueError):
    """The file as a whole cannot be read (not CSV of a known layout, bad encoding, NUL)."""


class Layout(Enum):
    VRS_LEDGER = "vrs_ledger"
    REGISTER = "register"


LAYOUT_LABELS = {
    Layout.VRS_LEDGER: "VRS 予防接種台帳向け出力（1人1行）",
    Layout.REGISTER: "予防接種台帳（1回1行）",
}


@dataclass(frozen=True)
class FileDose:
    dose_number: int | None
    vaccinated_on: str
    registered: str = ""
    ticket_number: str = ""
    given_in: str = ""
    site_name: str = ""
    doctor_name: str = ""
    # The VRS maker label (ファイザー) or, in a register file, the vaccine's 販売名.
    vaccine_label: str = ""
    lot_number: str = ""
    program_code: str = ""


@dataclass(frozen=True)
class FileRow:
    """One line of the file: a person and the doses the line gives for them."""

    line: int
    atena: str
    doses: list[FileDose]
    birth_date: str = ""


@dataclass
class ReadFile:
    layout: Layout
    rows: list[FileRow]
    assumptions: list[str]
    problems: list[str]


@dataclass
class ReconcileReport:
    layout: str = ""
    rows: int = 0
    known: int = 0
    imported: list[str] = field(default_factory=list)
    cancellations: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.imported or self.cancellations)

    def add(self, other: ReconcileReport) -> None:
        self.known += other.known
        self.imported += other.imported
        self.cancellations += other.cancellations
        self.conflicts += other.conflicts
        self.findings += other.findings

    def as_json(self) -> dict[str, Any]:
        keep = REPORT_LINES_KEPT
        return {
            "imported": self.imported[:keep],
            "cancellations": self.cancellations[:keep],
            "conflicts": self.conflicts[:keep],
            "findings": self.findings[:keep],
            "problems": self.problems[:keep],
            "assumptions": self.assumptions,
        }


# --- Reading the file ---------------------------------------------------------------------------


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and what was assumed: UTF-8 with or without BOM, else CP932 (the VRS era's two)."""
    if encoding:
        try:
            return data.decode(encoding), _("文字コード: %(name)s（指定どおり）") % {
                "name": encoding.upper()
            }
        except UnicodeDecodeError:
            raise LedgerUnreadable(
                _("指定の文字コード %(name)s では読めません。") % {"name": encoding.upper()}
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), _(
            "文字コード: UTF-8（BOMつき）"
        )
    try:
        return data.decode("utf-8"), _("文字コード: UTF-8（BOMなし）")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), _("文字コード: Shift_JIS（CP932）とみなしました")
    except UnicodeDecodeError:
        raise LedgerUnreadable(
            _("文字コードを読み取れません（UTF-8でもShift_JISでもありません）。")
        ) from None


def _line_endings(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    return _("改行: %(kinds)s") % {"kinds": "・".join(kinds) or _("なし（1行のみ）")}


def _refuse_control_characters(text: str) -> None:
    """A whole pass before the first row: reconciling writes person by person, so a NUL found
    half-way would leave half the file applied. NUL and other control characters are never
    part of such a file (and PostgreSQL cannot store NUL); the line is named."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        char = control_character(line)
        if char is not None:
            raise LedgerUnreadable(
                _("%(line)s行目: %(problem)s")
                % {"line": number, "problem": control_character_message(char)}
            )


def _header_key(cell: str) -> str:
    """A header cell as compared: width folded (（空欄） → (空欄)), spaces and (空欄) dropped.
    The real header bytes VRS wrote are not published; these are the variants seen in files."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
    return text.replace("(空欄)", "")


def _ledger_keys(blocks: int) -> list[str]:
    keys = [_header_key(LEDGER_FIRST_COLUMN)]
    for n in range(1, blocks + 1):
        keys.extend(_header_key(f"{n}回目{name}") for name in LEDGER_BLOCK_FIELDS)
    return keys


_BLOCK = len(LEDGER_BLOCK_FIELDS)
_DIGITS8 = re.compile(r"^[0-9]{8}$")
_DIGITS14 = re.compile(r"^[0-9]{14}$")


def _recognise_header(first: list[str]) -> tuple[Layout, int] | None:
    keys = [_header_key(cell) for cell in first]
    while keys and not keys[-1]:
        keys.pop()
    blocks = (len(keys) - 1) // _BLOCK
    if blocks >= 1 and keys == _ledger_keys(blocks):
        return Layout.VRS_LEDGER, blocks
    if keys == [_header_key(name) for name in REGISTER_HEADER]:
        return Layout.REGISTER, 0
    return None


def _looks_like_ledger_data(row: list[str]) -> int | None:
    """Blocks in a header-less VRS row: 1 + 8n cells, the first block's stamp and date digits."""
    if len(row) < 1 + _BLOCK or (len(row) - 1) % _BLOCK:
        return None
    if _DIGITS14.match(row[1].strip()) and _DIGITS8.match(row[2].strip()):
        return (len(row) - 1) // _BLOCK
    return None


def _looks_like_register_data(row: list[str]) -> bool:
    return (
        len(row) == len(REGISTER_HEADER)
        and bool(_DIGITS8.match(row[2].strip()))
        and bool(_DIGITS8.match(row[3].strip()))
    )


def read_file(data: bytes, *, encoding: str | None = None) -> ReadFile:
    """Read every row before anything is written. LedgerUnreadable when the file as a whole is
    not one we know; a row of the wrong width is a problem for that row only."""
    text, encoding_note = decode(data, encoding)
    if not text.strip():
        raise LedgerUnreadable(_("ファイルが空です。"))
    _refuse_control_characters(text)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, row) for row in _rows(reader)]
    except csv.Error as error:
        raise LedgerUnreadable(
            _("%(line)s行目: CSVとして読めません（%(error)s）。")
            % {"line": reader.line_num, "error": error}
        ) from None
    assumptions = [encoding_note, _line_endings(text)]
    first_line, first = records[0]
    recognised = _recognise_header(first)
    if recognised is not None:
        layout, blocks = recognised
        canonical = [LEDGER_FIRST_COLUMN] if layout is Layout.VRS_LEDGER else list(REGISTER_HEADER)
        if first[: len(canonical)] != canonical or any(c != c.strip() for c in first):
            assumptions.append(
                _(
                    "見出しの表記ゆれ（全角・半角の括弧、「(空欄)」の有無、空白）を"
                    "同じ項目として読みました: %(first)s"
                )
                % {"first": first[0]}
            )
        body = records[1:]
    else:
        ledger_blocks = _looks_like_ledger_data(first)
        if ledger_blocks is not None:
            layout, blocks = Layout.VRS_LEDGER, ledger_blocks
        elif _looks_like_register_data(first):
            layout, blocks = Layout.REGISTER, 0
        else:
            raise LedgerUnreadable(
                _(
                    "VRSの予防接種台帳向け出力、または予防接種台帳の形式ではありません"
                    "（%(line)s行目の1列目: %(first)s）。"
                )
                % {"line": first_line, "first": first[0] if first else ""}
            )
        assumptions.append(
            _("見出し行がないため、1行目からデータとして「%(layout)s」の列順で読みました。")
            % {"layout": LAYOUT_LABELS[layout]}
        )
        body = records
    if layout is Layout.VRS_LEDGER:
        assumptions.append(
            _("形式: %(layout)s、%(blocks)s回分の列")
            % {"layout": LAYOUT_LABELS[layout], "blocks": blocks}
        )
        rows, problems = _ledger_rows(body, blocks, assumptions)
    else:
        assumptions.append(_("形式: %(layout)s") % {"layout": LAYOUT_LABELS[layout]})
        rows, problems = _register_rows(body)
    return ReadFile(layout=layout, rows=rows, assumptions=assumptions, problems=problems)


def _rows(reader: Any) -> Iterator[list[str]]:
    for row in reader:
        if any(cell.strip() for cell in row):
            yield row


def _ledger_rows(
    records: list[tuple[int, list[str]]], blocks: int, assumptions: list[str]
) -> tuple[list[FileRow], list[str]]:
    width = 1 + blocks * _BLOCK
    rows: list[FileRow] = []
    problems: list[str] = []
    padded = False
    for line, row in records:
        if len(row) < width and (len(row) - 1) % _BLOCK == 0:
            # Whole trailing blocks left off (spreadsheets drop empty columns at the end).
            row = row + [""] * (width - len(row))
            padded = True
        if len(row) != width:
            problems.append(
                _("%(line)s行目: 列数が%(count)s列です（見出しは%(width)s列）。")
                % {"line": line, "count": len(row), "width": width}
            )
            continue
        doses = []
        for index in range(blocks):
            cells = [c.strip() for c in row[1 + index * _BLOCK : 1 + (index + 1) * _BLOCK]]
            if any(cells):
                registered, on, ticket, given_in, site, doctor, maker, lot = cells
                doses.append(
                    FileDose(
                        dose_number=index + 1,
                        vaccinated_on=on,
                        registered=registered,
                        ticket_number=ticket,
                        given_in=given_in,
                        site_name=site,
                        doctor_name=doctor,
                        vaccine_label=maker,
                        lot_number=lot,
                    )
                )
        rows.append(FileRow(line=line, atena=row[0].strip(), doses=doses))
    if padded:
        assumptions.append(_("末尾の空の回の列を省いた行は、その回を空欄として読みました。"))
    return rows, problems


def _register_rows(records: list[tuple[int, list[str]]]) -> tuple[list[FileRow], list[str]]:
    width = len(REGISTER_HEADER)
    rows: list[FileRow] = []
    problems: list[str] = []
    for line, row in records:
        if len(row) != width:
            problems.append(
                _("%(line)s行目: 列数が%(count)s列です（見出しは%(width)s列）。")
                % {"line": line, "count": len(row), "width": width}
            )
            continue
        cell = dict(zip(REGISTER_HEADER, (c.strip() for c in row), strict=True))
        number = cell["接種回数"]
        dose = FileDose(
            dose_number=int(number) if number.isascii() and number.isdigit() else None,
            vaccinated_on=cell["接種日"],
            site_name=cell["医療機関"],
            doctor_name=cell["医師"],
            vaccine_label=cell["ワクチン"],
            lot_number=cell["ロット"],
            program_code=cell["接種事業"],
        )
        rows.append(
            FileRow(line=line, atena=cell["宛名番号"], doses=[dose], birth_date=cell["生年月日"])
        )
    return rows, problems


# --- Matching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """A file dose resolved to our terms."""

    dose: FileDose
    on: dt.date
    vaccine: Vaccine
    campaign: Campaign | None


def _resident_for(municipality: Municipality, row: FileRow) -> tuple[Resident, Ticket | None]:
    numbers = {d.ticket_number for d in row.doses if d.ticket_number}
    tickets = list(
        Ticket.objects.filter(municipality=municipality, number__in=numbers).select_related(
            "resident"
        )
    )
    people = {t.resident_id for t in tickets}
    if row.atena:
        people |= set(
            municipality.residents.filter(atena_number=row.atena).values_list("pk", flat=True)
        )
    if len(people) != 1:
        raise ValueError(
            _("券番号・宛名番号に当たる住民が見つかりません")
            if not people
            else _("券番号・宛名番号が別々の住民を指しています")
        )
    resident = Resident.objects.get(pk=people.pop())
    if row.birth_date and row.birth_date != resident.birth_date.strftime("%Y%m%d"):
        raise ValueError(
            _("生年月日が宛名番号の住民と一致しません（ファイル: %(theirs)s）")
            % {"theirs": row.birth_date}
        )
    return resident, (tickets[0] if tickets else None)


def _vaccine_for(dose: FileDose, layout: Layout) -> Vaccine:
    if layout is Layout.VRS_LEDGER:
        # VRS names only the maker; several products share one label, any of them is the
        # antigen's dose (the product is not part of the match).
        found = (
            Vaccine.objects.filter(vrs_maker_label=dose.vaccine_label, antigen=Antigen.COVID19)
            .order_by("code")
            .first()
        )
    else:
        label = unicodedata.normalize("NFKC", dose.vaccine_label)
        found = next(
            (v for v in Vaccine.objects.all() if unicodedata.normalize("NFKC", v.name) == label),
            None,
        )
    if found is None:
        raise ValueError(
            _("ワクチン「%(label)s」に当たるワクチンがありません") % {"label": dose.vaccine_label}
        )
    return found


def _campaign_for(
    dose: FileDose, vaccine: Vaccine, on: dt.date, municipality: Municipality
) -> Campaign | None:
    """The campaign the dose belongs to: of the named programme (register files) or of the
    vaccine's antigen, whose period contains the date; the municipality's own first."""
    campaigns = Campaign.objects.filter(
        Q(municipality=municipality) | Q(municipality__isnull=True),
        program__antigen=vaccine.antigen,
        starts_on__lte=on,
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
    if dose.program_code:
        if not Program.objects.filter(code=dose.program_code).exists():
            raise ValueError(_("接種事業「%(code)s」はありません") % {"code": dose.program_code})
        campaigns = campaigns.filter(program__code=dose.program_code)
    return campaigns.select_related("program").order_by("municipality_id", "-starts_on").first()


def _place(dose: FileDose, layout: Layout, municipality: Municipality) -> _Placed:
    on = parse_date8(dose.vaccinated_on)
    vaccine = _vaccine_for(dose, layout)
    return _Placed(
        dose=dose, on=on, vaccine=vaccine, campaign=_campaign_for(dose, vaccine, on, municipality)
    )


def _redundant_booking(resident: Resident, placed: _Placed) -> Reservation | None:
    """The booking this dose takes the place of: the person's earliest active booking of the
    antigen on or after the dose's date, in a campaign whose period holds the date."""
    return (
        Reservation.objects.filter(
            resident=resident,
            vaccine__antigen=placed.vaccine.antigen,
            status__in=Reservation.ACTIVE_STATUSES,
            slot__starts_at__date__gte=placed.on,
            campaign__starts_on__lte=placed.on,
        )
        .filter(Q(campaign__ends_on__isnull=True) | Q(campaign__ends_on__gte=placed.on))
        .select_related("slot")
        .order_by("slot__starts_at")
        .first()
    )


def _where(row: FileRow, placed: _Placed) -> str:
    who = (
        _("券番号 %(ticket)s") % {"ticket": placed.dose.ticket_number}
        if placed.dose.ticket_number
        else _("宛名番号 %(atena)s") % {"atena": row.atena}
    )
    return _("%(line)s行目 %(on)s（%(who)s）") % {
        "line": row.line,
        "on": placed.on.isoformat(),
        "who": who,
    }


def _number_note(theirs: int | None, ours: int) -> str:
    return _("ファイルでは%(theirs)s回目、本システムでは%(ours)s回目") % {
        "theirs": theirs,
        "ours": ours,
    }


def _reconcile_person(
    *,
    row: FileRow,
    layout: Layout,
    municipality: Municipality,
    report: ReconcileReport,
    requester: Requester,
    apply: bool,
    now: dt.datetime,
) -> None:
    resident, ticket = _resident_for(municipality, row)
    placed_doses = sorted((_place(d, layout, municipality) for d in row.doses), key=lambda p: p.on)
    earlier: list[str] = []
    for placed in placed_doses:
        where = _where(row, placed)
        ours = list(
            Vaccination.objects.filter(
                resident=resident,
                antigen=placed.vaccine.antigen,
                status=Vaccination.Status.ACTIVE,
                outcome=Vaccination.Outcome.VACCINATED,
            ).select_related("vaccine")
        )
        same_day = next((v for v in ours if v.vaccinated_on == placed.on), None)
        if same_day is not None:
            if (
                layout is Layout.VRS_LEDGER
                and same_day.vaccine.vrs_maker_label != placed.dose.vaccine_label
            ) or (layout is Layout.REGISTER and same_day.vaccine_id != placed.vaccine.pk):
                report.conflicts.append(
                    _(
                        "%(where)s: 同じ日の記録でワクチンが違います"
                        "（ファイル: %(theirs)s、本システム: %(ours)s）"
                    )
                    % {
                        "where": where,
                        "theirs": placed.dose.vaccine_label,
                        "ours": same_day.vaccine.name,
                    }
                )
                continue
            report.known += 1
            if placed.dose.dose_number not in (None, same_day.dose_number):
                report.findings.append(
                    _(
                        "%(where)s: 接種回数の違い（%(numbers)s）。"
                        "記録は同じ接種として一致しています"
                    )
                    % {
                        "where": where,
                        "numbers": _number_note(placed.dose.dose_number, same_day.dose_number),
                    }
                )
            continue
        near = next((v for v in ours if abs(v.vaccinated_on - placed.on) <= SAME_DOSE_WINDOW), None)
        if near is not None:
            # Never overwritten from a file: our (possibly confirmed) record stays until staff
            # correct it explicitly.
            report.conflicts.append(
                _("%(where)s: 接種日の食い違い。ファイルは%(theirs)s、本システムは%(ours)s")
                % {
                    "where": where,
                    "theirs": placed.on.isoformat(),
                    "ours": near.vaccinated_on.isoformat(),
                }
            )
            continue
        latest = max((v.vaccinated_on for v in ours), default=None)
        if latest is not None and placed.on < latest:
            earlier.append(placed.on.isoformat())
            continue
        given_in = placed.dose.given_in or municipality.code
        if not is_valid_municipality_code(given_in):
            raise ValueError(
                _("接種自治体コード %(code)s は全国地方公共団体コードにありません")
                % {"code": given_in}
            )
        record = vaccination_import_external(
            resident=resident,
            ticket=_ticket_of(municipality, placed.dose, ticket),
            vaccine=placed.vaccine,
            vaccinated_on=placed.on,
            registered_at=(
                parse_timestamp14(placed.dose.registered) if placed.dose.registered else None
            ),
            given_in_municipality_code=given_in,
            site_name=placed.dose.site_name,
            doctor_name=placed.dose.doctor_name,
            lot_number=placed.dose.lot_number,
            requester=requester,
            reported_dose_number=placed.dose.dose_number,
            campaign=placed.campaign,
            now=now,
        )
        report.imported.append(
            _("%(where)s: %(vaccine)s を%(n)s回目として取り込み")
            % {"where": where, "vaccine": placed.vaccine.name, "n": record.dose_number}
        )
        if placed.dose.dose_number not in (None, record.dose_number):
            report.findings.append(
                _("%(where)s: 接種回数の違い（%(numbers)s）")
                % {
                    "where": where,
                    "numbers": _number_note(placed.dose.dose_number, record.dose_number),
                }
            )
        booking = _redundant_booking(resident, placed)
        if booking is None:
            continue
        report.cancellations.append(
            _("%(where)s: 予約番号 %(code)s（%(when)s、%(vaccine)s %(n)s回目）")
            % {
                "where": where,
                "code": booking.code,
                "when": timezone.localtime(booking.slot.starts_at).strftime("%Y-%m-%d %H:%M"),
                "vaccine": placed.vaccine.name,
                "n": booking.dose_number,
            }
        )
        if booking.dose_number != record.dose_number:
            report.findings.append(
                _(
                    "%(where)s: 予約は%(booked)s回目、ファイルでは%(theirs)s回目"
                    "（回数は照合に使っていません）"
                )
                % {
                    "where": where,
                    "booked": booking.dose_number,
                    "theirs": placed.dose.dose_number or record.dose_number,
                }
            )
        if apply:
            reservation_cancel(
                reservation=booking,
                requester=requester,
                reason=Reservation.CancelReason.VACCINATED_ELSEWHERE,
                now=now,
            )
    if earlier:
        report.findings.append(
            _(
                "%(line)s行目: 本システムの記録より前の接種 %(count)s回（%(dates)s）は"
                "取り込みません（回数の振り直しになるため、必要なら記録の訂正で）"
            )
            % {"line": row.line, "count": len(earlier), "dates": "、".join(earlier)}
        )


def _ticket_of(
    municipality: Municipality, dose: FileDose, fallback: Ticket | None
) -> Ticket | None:
    if dose.ticket_number:
        found = Ticket.objects.filter(municipality=municipality, number=dose.ticket_number).first()
        if found is not None:
            return found
    return fallback


def reconcile(
    *,
    data: bytes,
    municipality: Municipality,
    apply: bool,
    user: Any = None,
    encoding: str | None = None,
    now: dt.datetime | None = None,
) -> ReconcileReport:
    """Compare the file with our records. Without `apply` every change is rolled back, so the
    report says exactly what applying would do. Each person is one transaction."""
    now = now or timezone.now()
    read = read_file(data, encoding=encoding)
    requester = Requester(channel=Channel.OFFICE, actor=Actor.OPERATOR, user=user)
    report = ReconcileReport(
        layout=LAYOUT_LABELS[read.layout],
        assumptions=read.assumptions,
        problems=list(read.problems),
    )
    report.rows = len(read.rows) + len(read.problems)
    for row in read.rows:
        if not row.doses:
            continue
        person = ReconcileReport()
        try:
            with transaction.atomic():
                _reconcile_person(
                    row=row,
                    layout=read.layout,
                    municipality=municipality,
                    report=person,
                    requester=requester,
                    apply=apply,
                    now=now,
                )
                if not apply:
                    transaction.set_rollback(True)
        except (ReservationError, IdentifierError, ValueError) as error:
            message = getattr(error, "message", None) or str(error)
            report.problems.append(
                _("%(line)s行目: %(problem)s") % {"line": row.line, "problem": message}
            )
            continue
        report.add(person)
    return report


# --- Runs: the audited service the command and the page call ------------------------------------


class ReconcileNotAllowed(Exception):
    pass


class PreviewExpired(Exception):
    pass


def _may_apply(user: Any) -> bool:
    return bool(user is not None and user.has_perm("reservations.reconcile_vrs"))


def reconcile_run(
    *,
    data: bytes,
    file_name: str,
    municipality: Municipality,
    user: Any,
    via: str,
    apply: bool = False,
    reason: str = "",
    keep_content: bool = False,
    encoding: str | None = None,
    preview: ReconcileRun | None = None,
    now: dt.datetime | None = None,
) -> tuple[ReconcileRun, ReconcileReport | None]:
    """Read the file against our records and write the audit row (with the file's SHA-256).

    A preview changes nothing; `keep_content` keeps the bytes for applying it from the page.
    Applying needs the reconcile permission and a reason. An unreadable file is audited too
    (mode refused) and its reason is in the run's report.
    """
    now = now or timezone.now()
    reason = reason.strip()
    # A named member of staff reads and changes only the municipalities they work for.
    if getattr(user, "pk", None) is not None and not staff_scope(user).covers_municipality(
        municipality.pk
    ):
        raise ReconcileNotAllowed(
            _("この職員は自治体 %(code)s の担当ではないため、突合できません。")
            % {"code": municipality.code}
        )
    if apply and not _may_apply(user):
        raise ReconcileNotAllowed(_("この職員には突合を反映する権限がありません。"))
    if apply and not reason:
        raise ReconcileNotAllowed(_("反映の理由を入力してください。"))
    run = ReconcileRun(
        via=via,
        municipality_code=municipality.code,
        file_name=file_name[:200],
        file_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        reason=reason,
        preview=preview,
        requested_by=user if getattr(user, "pk", None) else None,
        requested_by_name=user.get_username() if getattr(user, "pk", None) else "",
        started_at=now,
    )
    try:
        report = reconcile(
            data=data,
            municipality=municipality,
            apply=apply,
            user=user,
            encoding=encoding,
            now=now,
        )
    except LedgerUnreadable as error:
        run.mode = ReconcileRun.Mode.REFUSED
        run.report = {"unreadable": str(error)}
        run.save()
        return run, None
    run.mode = ReconcileRun.Mode.APPLIED if apply else ReconcileRun.Mode.PREVIEW
    run.layout = report.layout
    run.rows = report.rows
    run.known = report.known
    run.imported = len(report.imported)
    run.cancelled = len(report.cancellations)
    run.conflicts = len(report.conflicts)
    run.findings = len(report.findings)
    run.problems = len(report.problems)
    run.report = report.as_json()
    run.content = data if keep_content and not apply else None
    run.save()
    return run, report


def reconcile_apply_preview(
    *, preview: ReconcileRun, user: Any, reason: str, now: dt.datetime | None = None
) -> tuple[ReconcileRun, ReconcileReport | None]:
    """Apply the file a person previewed on the page: their own preview, not yet applied, and
    recent enough that what they read is what they apply (the records move on)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the preview and take its file in one short transaction: a double click applies
        # the file once, and the run itself is not one transaction over every person.
        locked = ReconcileRun.objects.select_for_update().get(pk=preview.pk)
        if (
            locked.mode != ReconcileRun.Mode.PREVIEW
            or locked.content is None
            or locked.requested_by_id != getattr(user, "pk", None)
        ):
            raise PreviewExpired(
                _(
                    "この確認結果は反映済みか、別の職員のものです。ファイルをもう一度選んでください。"
                )
            )
        if now - locked.started_at > PREVIEW_VALID_FOR:
            raise PreviewExpired(
                _("確認から時間がたっています。ファイルをもう一度選んで確認し直してください。")
            )
        if not _may_apply(user) or not reason.strip():
            # Checked again below; here so a refused apply leaves the preview usable.
            raise ReconcileNotAllowed(
                _("反映の理由を入力してください。")
                if _may_apply(user)
                else _("この職員には突合を反映する権限がありません。")
            )
        data = bytes(locked.content)
        ReconcileRun.objects.filter(pk=locked.pk).update(content=None)
    municipality = Municipality.objects.get(code=locked.municipality_code)
    return reconcile_run(
        data=data,
        file_name=locked.file_name,
        municipality=municipality,
        user=user,
        via=locked.via,
        apply=True,
        reason=reason,
        preview=locked,
        now=now,
    )


def previews_purge(*, now: dt.datetime, dry_run: bool) -> int:
    """Files of previews never applied are dropped after PREVIEW_VALID_FOR (registered with the
    retention purge): they hold ticket numbers and dates of doses."""
    stale = ReconcileRun.objects.filter(
        content__isnull=False, started_at__lt=now - PREVIEW_VALID_FOR
    )
    if dry_run:
        return stale.count()
    return stale.update(content=None)
