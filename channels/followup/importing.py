"""Importing a list of people to follow (a health centre's 自宅療養者 list, a list of people
vaccinated elsewhere) into follow-ups: `manage.py followup_import`.

The file is read exactly as the ticket-list import reads it (reservations/services/
residents.py: UTF-8 with or without BOM or CP932, full-width digits, 和暦 dates, phone numbers
to E.164), with its helpers. Lists are small (hundreds of rows), so every row is checked
before anything is written, and one bad row means nothing is imported. A row whose person is
already followed with the same questionnaire version from the same date is skipped, so the
same file can be imported twice.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.followup.models import FollowedPerson, FollowUp, Questionnaire
from channels.followup.selectors import questionnaire_active
from channels.followup.services import MAX_DAYS, followup_start
from reservations.csv_safety import control_character_problem
from reservations.identifiers import (
    IdentifierError,
    normalize_municipality_code,
    normalize_number_input,
    normalize_phone,
    normalize_ticket_number,
    parse_birth_date,
    parse_date_loose,
)
from reservations.models import Municipality, Resident, Ticket
from reservations.services.residents import (
    COLUMN_ATENA_NUMBER,
    COLUMN_BIRTH_DATE,
    COLUMN_NAME,
    COLUMN_PHONE,
    COLUMN_TICKET_NUMBER,
    DecodedLines,
    RowError,
    byte_lines,
    clean_atena_number,
    clean_text,
    detect_encoding,
    encoding_label,
    header_key,
    read_head,
)
from reservations.staff_scope import staff_scope

# Header names are the file format: never translated.
COLUMN_START: Final = "開始日"
COLUMN_DAYS: Final = "日数"
COLUMN_PROXY_PHONE: Final = "代理人電話番号"

_REQUIRED: Final = (COLUMN_NAME, COLUMN_PHONE, COLUMN_BIRTH_DATE, COLUMN_START, COLUMN_DAYS)
_OPTIONAL: Final = (COLUMN_ATENA_NUMBER, COLUMN_TICKET_NUMBER, COLUMN_PROXY_PHONE)

_MAX_NAME: Final = FollowedPerson._meta.get_field("name").max_length or 100

_JST = dt.timezone(dt.timedelta(hours=9))


class FollowUpImportFileError(Exception):
    """The file, questionnaire or municipality cannot be imported at all; nothing written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class FollowUpImportReport:
    """What an import did, or on a dry run or a refused import, what it would have done."""

    encoding: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    people_created: int = 0
    linked_to_residents: int = 0
    already_followed: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    committed: bool = False


@dataclass(frozen=True)
class _Row:
    line: int
    name: str
    phone: str
    birth_date: dt.date
    start_date: dt.date
    days: int
    address_number: str
    ticket_number: str
    proxy_phone: str


def _map_columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    known = {header_key(name): name for name in (*_REQUIRED, *_OPTIONAL)}
    index: dict[str, int] = {}
    unknown: list[str] = []
    duplicated: list[str] = []
    for position, raw in enumerate(header):
        key = header_key(raw)
        name = known.get(key)
        if name is None:
            if key:
                unknown.append(raw.strip())
            continue
        if name in index:
            duplicated.append(name)
        index[name] = position
    if duplicated:
        raise FollowUpImportFileError(
            _("同じ名前の列が複数あります: %(columns)s") % {"columns": "、".join(duplicated)}
        )
    missing = [name for name in _REQUIRED if name not in index]
    if missing:
        raise FollowUpImportFileError(
            _("必須の列がありません: %(columns)s（1行目は見出し行にしてください）")
            % {"columns": "、".join(missing)}
        )
    warnings = []
    if unknown:
        warnings.append(
            _("次の列は取り込みに使わないため無視しました: %(columns)s")
            % {"columns": "、".join(unknown)}
        )
    return index, warnings


def _days(value: str) -> int:
    text = normalize_number_input(value)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DAYS:
        raise IdentifierError(
            "days_invalid",
            _("日数は1〜%(max)dの整数で入力してください。") % {"max": MAX_DAYS},
        )
    return int(text)


def _parse_row(
    cells: list[str], line: int, columns: dict[str, int], count: int, today: dt.date
) -> tuple[_Row | None, list[str]]:
    if len(cells) < count or "".join(cells[count:]).strip():
        return None, [
            _("列の数（%(found)d）が見出し行（%(expected)d）と合いません。")
            % {"found": len(cells), "expected": count}
        ]
    problems: list[str] = []

    def cell(name: str) -> str:
        position = columns.get(name)
        return cells[position] if position is not None else ""

    def read(name: str, clean: Any, *, required: bool, label: str = "") -> Any:
        raw = cell(name)
        if not raw.strip():
            if required:
                problems.append(_("%(column)sが空です。") % {"column": name})
            return None
        try:
            return clean(raw)
        except IdentifierError as exc:
            problems.append(f"{label}{exc.message}")
            return None

    name = clean_text(cell(COLUMN_NAME))
    if not name:
        problems.append(_("%(column)sが空です。") % {"column": COLUMN_NAME})
    elif len(name) > _MAX_NAME:
        problems.append(
            _("%(label)sが長すぎます（%(max)d文字まで）。")
            % {"label": COLUMN_NAME, "max": _MAX_NAME}
        )
    phone = read(COLUMN_PHONE, normalize_phone, required=True)
    birth_date = read(
        COLUMN_BIRTH_DATE, lambda raw: parse_birth_date(raw, today=today), required=True
    )
    start_date = read(COLUMN_START, parse_date_loose, required=True, label=_("開始日: "))
    days = read(COLUMN_DAYS, _days, required=True)
    atena = read(COLUMN_ATENA_NUMBER, clean_atena_number, required=False)
    ticket = read(COLUMN_TICKET_NUMBER, normalize_ticket_number, required=False)
    proxy = read(COLUMN_PROXY_PHONE, normalize_phone, required=False, label=_("代理人電話番号: "))
    if problems:
        return None, problems
    return (
        _Row(
            line=line,
            name=name,
            phone=phone,
            birth_date=birth_date,
            start_date=start_date,
            days=days,
            address_number=atena or "",
            ticket_number=ticket or "",
            proxy_phone=proxy or "",
        ),
        [],
    )


def _resident_for(municipality: Municipality, row: _Row) -> Resident | None:
    """The resident the row names by 宛名番号 or 接種券番号, if the list has them."""
    if row.address_number:
        resident = Resident.objects.filter(
            municipality=municipality, atena_number=row.address_number
        ).first()
        if resident is not None:
            return resident
    if row.ticket_number:
        ticket = (
            Ticket.objects.filter(municipality=municipality, number=row.ticket_number)
            .select_related("resident")
            .first()
        )
        if ticket is not None:
            return ticket.resident
    return None


def _person_for(
    municipality: Municipality, row: _Row, report: FollowUpImportReport
) -> FollowedPerson:
    person = (
        FollowedPerson.objects.filter(
            municipality=municipality, name=row.name, birth_date=row.birth_date, phone=row.phone
        )
        .order_by("-id")
        .first()
    )
    resident = _resident_for(municipality, row)
    if resident is not None:
        report.linked_to_residents += 1
    if person is None:
        report.people_created += 1
        return FollowedPerson.objects.create(
            municipality=municipality,
            resident=resident,
            name=row.name,
            phone=row.phone,
            birth_date=row.birth_date,
            address_number=row.address_number,
            ticket_number=row.ticket_number,
            proxy_phone=row.proxy_phone,
        )
    # What the list says fills what we did not know; it never erases (a blank cell is "the
    # list does not say", as in the ticket-list import).
    changed = []
    for name, value in (
        ("resident", resident),
        ("address_number", row.address_number),
        ("ticket_number", row.ticket_number),
        ("proxy_phone", row.proxy_phone),
    ):
        if value and getattr(person, name) != value:
            setattr(person, name, value)
            changed.append(name)
    if changed:
        person.save(update_fields=changed)
    return person


def _resolve(
    questionnaire_code: str, municipality_code: str, created_by: Any | None
) -> tuple[Questionnaire, Municipality]:
    questionnaire = questionnaire_active(questionnaire_code.strip())
    if questionnaire is None:
        raise FollowUpImportFileError(
            _("質問票「%(code)s」は使用中の版がありません。") % {"code": questionnaire_code}
        )
    try:
        code = normalize_municipality_code(municipality_code)
    except IdentifierError as exc:
        raise FollowUpImportFileError(
            _("指定された自治体コードが正しくありません。%(reason)s") % {"reason": exc.message}
        ) from None
    municipality = Municipality.objects.filter(code=code).first()
    # Out of the member of staff's scope reads the same as unknown (never confirm it exists).
    if municipality is None or (
        created_by is not None and not staff_scope(created_by).covers_municipality(municipality.pk)
    ):
        raise FollowUpImportFileError(
            _("自治体コード %(code)s の自治体は登録されていません。") % {"code": code}
        )
    return questionnaire, municipality


def followup_import(
    *,
    stream: BinaryIO,
    questionnaire_code: str,
    municipality_code: str,
    dry_run: bool,
    created_by: Any | None = None,
    now: dt.datetime,
) -> FollowUpImportReport:
    """Start a follow-up for each row of a CSV list (header 氏名,電話番号,生年月日,開始日,日数;
    optional 宛名番号, 接種券番号, 代理人電話番号) with the active version of
    `questionnaire_code`, for the municipality `municipality_code`. All or nothing: any bad
    row and nothing is written. `dry_run` does the work and rolls it back.

    Raises FollowUpImportFileError when the file cannot be imported at all.
    """
    questionnaire, municipality = _resolve(questionnaire_code, municipality_code, created_by)
    today = timezone.localdate(now, timezone=_JST)

    head = read_head(stream)
    encoding, bom = detect_encoding(head)
    lines = DecodedLines(byte_lines(head[3:] if bom else head, stream), encoding)
    reader = csv.reader(lines)

    rows: list[_Row] = []
    try:
        header: list[str] | None = None
        for cells in reader:
            if any(cell.strip() for cell in cells):
                header = cells
                break
        if header is None:
            raise FollowUpImportFileError(_("ファイルが空です（見出し行がありません）。"))
        if lines.take_undecodable():
            raise FollowUpImportFileError(
                _("見出し行の文字を読み取れません。UTF-8 か Shift_JIS で保存してください。")
            )
        header_control = control_character_problem(header, reader.line_num)
        if header_control is not None:
            raise FollowUpImportFileError(
                _("%(line)d行目（見出し行）: %(problem)s")
                % {"line": header_control[0], "problem": header_control[1]}
            )
        columns, warnings = _map_columns(header)
        report = FollowUpImportReport(
            encoding=encoding_label(encoding, bom), dry_run=dry_run, warnings=warnings
        )
        first_line_of: dict[tuple[str, dt.date, str, dt.date], int] = {}
        last_line = reader.line_num
        for cells in reader:
            line = last_line + 1
            last_line = reader.line_num
            undecodable = lines.take_undecodable()
            if not undecodable and not any(cell.strip() for cell in cells):
                continue
            report.rows += 1
            if undecodable:
                report.errors.append(
                    RowError(
                        undecodable[0],
                        _(
                            "文字を読み取れません"
                            "（UTF-8 と Shift_JIS のどちらでもない文字があります）。"
                        ),
                    )
                )
                continue
            control = control_character_problem(cells, line)
            if control is not None:
                report.errors.append(RowError(*control))
                continue
            row, problems = _parse_row(cells, line, columns, len(header), today)
            if row is not None:
                key = (row.name, row.birth_date, row.phone, row.start_date)
                first = first_line_of.setdefault(key, line)
                if first != line:
                    problems.append(
                        _("%(line)d行目と同じ人・同じ開始日の行です。") % {"line": first}
                    )
                    row = None
            if problems:
                report.errors.append(RowError(line, " ".join(problems)))
            elif row is not None:
                rows.append(row)
    except csv.Error as exc:
        raise FollowUpImportFileError(
            _("%(line)d行目付近をCSVとして読めません（%(detail)s）。引用符の対応をご確認ください。")
            % {"line": reader.line_num + 1, "detail": exc}
        ) from None

    if report.errors:
        return report

    with transaction.atomic():
        for row in rows:
            person = _person_for(municipality, row, report)
            if FollowUp.objects.filter(
                person=person, questionnaire=questionnaire, start_date=row.start_date
            ).exists():
                report.already_followed += 1
                continue
            followup_start(
                person=person,
                questionnaire=questionnaire,
                start_date=row.start_date,
                days=row.days,
                created_by=created_by,
                now=now,
            )
            report.created += 1
        report.committed = not dry_run
        if dry_run:
            transaction.set_rollback(True)
    return report
