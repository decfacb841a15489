"""Importing a municipality's ticket list (接種券発行リスト) into residents and tickets.

The list is the municipality's word on which tickets exist (DESIGN.md §2, invariant 3): a ticket
can book only if it arrived here. This service is the only code that bulk-writes `Resident` and
`Ticket` rows.

Shape of the work, chosen for 100,000-row files on a small machine:

- The file is streamed: bytes are split into physical lines, each line decoded on its own (so one
  undecodable line is one bad row, not a dead import) and handed to `csv.reader`. Only the set of
  ticket numbers already seen grows with the file (for duplicate detection).
- Valid rows are applied in chunks: one query for the chunk's existing tickets, one for the
  residents its 宛名番号 point at, then bulk writes.
- Everything runs in one transaction, rolled back on a dry run or when a bad row exists and bad
  rows are not to be skipped; so a dry run's counts are exactly what a real run would do.

The file reading and cleaning (read_head, detect_encoding, byte_lines, DecodedLines,
encoding_label, header_key, clean_text, clean_atena_number) are public: the health follow-up's
list import (channels/followup/importing.py) accepts exactly what this one does.

Blank cells and absent optional columns mean "the list does not say", never "erase": a blank
電話番号 or SMS同意 never overwrites what the resident told us (an SMS opt-out in particular must
survive the next import of the list).
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO, Final

import jaconv
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reservations.csv_safety import control_character_problem
from reservations.identifiers import (
    IdentifierError,
    normalize_municipality_code,
    normalize_number_input,
    normalize_phone,
    normalize_ticket_number,
    parse_birth_date,
    parse_sex,
)
from reservations.models import Municipality, Resident, Ticket

__all__ = [
    "COLUMN_ADDRESS",
    "COLUMN_ATENA_NUMBER",
    "COLUMN_BIRTH_DATE",
    "COLUMN_MUNICIPALITY",
    "COLUMN_NAME",
    "COLUMN_NAME_KANA",
    "COLUMN_PHONE",
    "COLUMN_POSTAL_CODE",
    "COLUMN_SEX",
    "COLUMN_SMS_CONSENT",
    "COLUMN_TICKET_NUMBER",
    "ResidentImportFileError",
    "ResidentImportReport",
    "RowError",
    "resident_import",
]

# Header names are the file format, not user interface text: they are never translated.
COLUMN_MUNICIPALITY: Final = "自治体コード"
COLUMN_ATENA_NUMBER: Final = "宛名番号"
COLUMN_TICKET_NUMBER: Final = "接種券番号"
COLUMN_NAME: Final = "氏名"
COLUMN_NAME_KANA: Final = "氏名カナ"
COLUMN_BIRTH_DATE: Final = "生年月日"
COLUMN_SEX: Final = "性別"
COLUMN_PHONE: Final = "電話番号"
COLUMN_POSTAL_CODE: Final = "郵便番号"
COLUMN_ADDRESS: Final = "住所"
COLUMN_SMS_CONSENT: Final = "SMS同意"

_KNOWN_COLUMNS: Final = (
    COLUMN_MUNICIPALITY,
    COLUMN_ATENA_NUMBER,
    COLUMN_TICKET_NUMBER,
    COLUMN_NAME,
    COLUMN_NAME_KANA,
    COLUMN_BIRTH_DATE,
    COLUMN_SEX,
    COLUMN_PHONE,
    COLUMN_POSTAL_CODE,
    COLUMN_ADDRESS,
    COLUMN_SMS_CONSENT,
)

DEFAULT_CHUNK_SIZE: Final = 1000

# Enough to see past a header and the first rows of any real list; what matters is that a
# CP932 file shows a non-UTF-8 byte in it (Japanese headers alone guarantee that).
_SNIFF_BYTES: Final = 64 * 1024

_ENCODING_UTF8: Final = "utf-8"
_ENCODING_CP932: Final = "cp932"

# Field lengths of the Resident model; checked here so that an over-long cell is a bad row with
# a line number instead of a database error (PostgreSQL) or silent overflow (SQLite).
_MAX_ATENA: Final = Resident._meta.get_field("atena_number").max_length or 20
_MAX_NAME: Final = Resident._meta.get_field("name").max_length or 100
_MAX_KANA: Final = Resident._meta.get_field("name_kana").max_length or 100
_MAX_ADDRESS: Final = Resident._meta.get_field("address").max_length or 200

_FULLWIDTH_DIGITS: Final = str.maketrans("０１２３４５６７８９", "0123456789")
_SPACE_RUN: Final = re.compile(r"\s+")
_POSTAL_MARKS: Final = "〒"

_SMS_YES: Final = frozenset({"1", "可"})
_SMS_NO: Final = frozenset({"0", "否"})

# What an import may change on an existing resident. Status, language and the high-risk
# attestation are the resident's or staff's business, never the list's.
_UPDATABLE_FIELDS: Final = (
    "atena_number",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "phone",
    "postal_code",
    "address",
    "sms_consent",
)


class ResidentImportFileError(Exception):
    """The file as a whole cannot be imported (no header, required columns missing, ...).

    Nothing has been written when this is raised. ``message`` is for the person who made the
    file.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RowError:
    """A bad row: the physical line it starts on (the header is line 1) and why, in Japanese."""

    line: int
    message: str


@dataclass
class ResidentImportReport:
    """What an import did, or on a dry run or a refused import, what it would have done.

    Counts are per data row: ``created`` rows brought a new ticket (``residents_created`` of
    them also a new resident; the others joined an existing resident by 宛名番号), ``updated``
    rows changed an existing ticket's resident, ``unchanged`` rows matched what was stored.
    """

    encoding: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    residents_created: int = 0
    updated: int = 0
    unchanged: int = 0
    municipalities_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    committed: bool = False


@dataclass(slots=True)
class _Row:
    """One valid data row, normalised. ``None`` means the list says nothing about the field."""

    line: int
    municipality_code: str
    ticket_number: str
    name: str
    birth_date: date
    atena_number: str | None
    name_kana: str | None
    sex: str | None
    phone: str | None
    postal_code: str | None
    address: str | None
    sms_consent: bool | None


@dataclass(frozen=True, slots=True)
class _Columns:
    """Index of each known column in the header, or None when the file has no such column."""

    count: int
    municipality: int | None
    atena_number: int | None
    ticket_number: int
    name: int
    name_kana: int | None
    birth_date: int
    sex: int | None
    phone: int | None
    postal_code: int | None
    address: int | None
    sms_consent: int | None


# ---------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------


def read_head(stream: BinaryIO) -> bytes:
    # A raw (unbuffered) stream may return fewer bytes than asked before its end.
    parts: list[bytes] = []
    size = 0
    while size < _SNIFF_BYTES:
        part = stream.read(_SNIFF_BYTES - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _first_decode_error(head: bytes, encoding: str) -> int | None:
    # An incremental decoder with final=False keeps a multi-byte character cut at the end of the
    # sample pending instead of calling it an error.
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def detect_encoding(head: bytes) -> tuple[str, bool]:
    """(codec, has BOM) for the sample at the start of the file."""
    if head.startswith(codecs.BOM_UTF8):
        return _ENCODING_UTF8, True
    utf8_error = _first_decode_error(head, _ENCODING_UTF8)
    if utf8_error is None:
        return _ENCODING_UTF8, False
    cp932_error = _first_decode_error(head, _ENCODING_CP932)
    if cp932_error is None:
        return _ENCODING_CP932, False
    # Neither reads the whole sample: take the one that reads further, so a UTF-8 file with one
    # corrupt byte is still read as UTF-8 and the corrupt line reported as a bad row.
    return (_ENCODING_UTF8 if utf8_error >= cp932_error else _ENCODING_CP932), False


def byte_lines(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """Physical lines of the file, the sample first and then the rest of the stream.

    Splitting on b"\\n" before decoding is safe for both encodings: neither UTF-8 nor CP932 uses
    0x0A (or 0x0D) inside a multi-byte character.
    """
    parts = head.split(b"\n")
    for part in parts[:-1]:
        yield part + b"\n"
    tail = parts[-1]
    for line in stream:
        if tail:
            line = tail + line
            tail = b""
        yield line
    if tail:
        yield tail


class DecodedLines:
    """Decodes physical lines one by one for csv.reader and remembers which ones failed.

    csv.reader pulls lines lazily and never reads past the end of the record it returns, so
    after each record the failed lines recorded so far belong to that record or an earlier one.
    """

    def __init__(self, lines: Iterator[bytes], encoding: str) -> None:
        self._lines = lines
        self._encoding = encoding
        self._count = 0
        self._undecodable: list[int] = []

    def __iter__(self) -> DecodedLines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self._count += 1
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError:
            self._undecodable.append(self._count)
            return raw.decode(self._encoding, errors="replace")

    def take_undecodable(self) -> list[int]:
        taken = self._undecodable
        self._undecodable = []
        return taken


def header_key(name: str) -> str:
    # Spreadsheets sometimes add spaces around headers, write ＳＭＳ in full width, or leave a
    # BOM in a CP932 export that was once UTF-8.
    return unicodedata.normalize("NFKC", name).replace("\ufeff", "").strip().upper()


def _map_columns(header: list[str], *, need_municipality: bool) -> tuple[_Columns, list[str]]:
    known = {header_key(name): name for name in _KNOWN_COLUMNS}
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
        raise ResidentImportFileError(
            "columns_duplicated",
            _("同じ名前の列が複数あります: %(columns)s") % {"columns": "、".join(duplicated)},
        )
    required = [COLUMN_TICKET_NUMBER, COLUMN_NAME, COLUMN_BIRTH_DATE]
    if need_municipality:
        required.insert(0, COLUMN_MUNICIPALITY)
    missing = [name for name in required if name not in index]
    if missing:
        raise ResidentImportFileError(
            "columns_missing",
            _("必須の列がありません: %(columns)s（1行目は見出し行にしてください）")
            % {"columns": "、".join(missing)},
        )
    warnings = []
    if unknown:
        warnings.append(
            _("次の列は取り込みに使わないため無視しました: %(columns)s")
            % {"columns": "、".join(unknown)}
        )
    columns = _Columns(
        count=len(header),
        municipality=index.get(COLUMN_MUNICIPALITY),
        atena_number=index.get(COLUMN_ATENA_NUMBER),
        ticket_number=index[COLUMN_TICKET_NUMBER],
        name=index[COLUMN_NAME],
        name_kana=index.get(COLUMN_NAME_KANA),
        birth_date=index[COLUMN_BIRTH_DATE],
        sex=index.get(COLUMN_SEX),
        phone=index.get(COLUMN_PHONE),
        postal_code=index.get(COLUMN_POSTAL_CODE),
        address=index.get(COLUMN_ADDRESS),
        sms_consent=index.get(COLUMN_SMS_CONSENT),
    )
    return columns, warnings


# ---------------------------------------------------------------------------
# Normalising one row
# ---------------------------------------------------------------------------


def _fold_spaces(match: re.Match[str]) -> str:
    # Keep the writer's choice of space (Japanese names use the ideographic one between family
    # and given name), but only one of it.
    return "\u3000" if "\u3000" in match.group() else " "


def clean_text(value: str) -> str:
    """Free text (names, addresses): digits to ASCII, spaces trimmed and folded.

    Deliberately not NFKC: it would replace CJK compatibility ideographs, i.e. change the
    characters of people's names.
    """
    return _SPACE_RUN.sub(_fold_spaces, value.translate(_FULLWIDTH_DIGITS).strip())


def _clean_kana(value: str) -> str:
    text = jaconv.h2z(value, kana=True, ascii=False, digit=False)
    return clean_text(jaconv.hira2kata(text))


def _clean_postal_code(value: str) -> str:
    digits = normalize_number_input(value).lstrip(_POSTAL_MARKS)
    if len(digits) != 7 or not (digits.isascii() and digits.isdigit()):
        raise IdentifierError(
            "postal_code_invalid", _("郵便番号は7桁の数字で入力してください（例：123-4567）。")
        )
    return f"{digits[:3]}-{digits[3:]}"


def _clean_sms_consent(value: str) -> bool | None:
    key = unicodedata.normalize("NFKC", value).strip()
    if not key:
        return None
    if key in _SMS_YES:
        return True
    if key in _SMS_NO:
        return False
    raise IdentifierError(
        "sms_consent_invalid", _("SMS同意は「1」「0」または「可」「否」で入力してください。")
    )


def clean_atena_number(value: str) -> str:
    text = normalize_number_input(value)
    if len(text) > _MAX_ATENA or not (text.isascii() and text.isalnum()):
        raise IdentifierError(
            "atena_number_invalid",
            _("宛名番号は%(max)d文字以内の半角英数字で入力してください。") % {"max": _MAX_ATENA},
        )
    return text


def _too_long(label: str, limit: int) -> str:
    return _("%(label)sが長すぎます（%(max)d文字まで）。") % {"label": label, "max": limit}


class _RowParser:
    """Turns the cells of one record into a `_Row`, collecting every problem it finds."""

    def __init__(self, columns: _Columns, default_code: str | None, today: date) -> None:
        self.columns = columns
        self.default_code = default_code
        self.today = today

    def parse(self, cells: list[str], line: int) -> tuple[_Row | None, str | None, list[str]]:
        """(row or None, ticket key or None, problems). The key is set whenever the
        municipality and ticket number could be read, even if other cells are bad, so that a
        later duplicate can name this line."""
        c = self.columns
        problems: list[str] = []
        # Extra cells are tolerated only when empty: spreadsheets leave trailing commas, but
        # anything else means a quote or comma went astray and the columns have shifted.
        if len(cells) < c.count or "".join(cells[c.count :]).strip():
            problems.append(
                _("列の数（%(found)d）が見出し行（%(expected)d）と合いません。")
                % {"found": len(cells), "expected": c.count}
            )
            return None, None, problems

        code = self._municipality_code(cells, problems)
        try:
            number: str | None = normalize_ticket_number(cells[c.ticket_number])
        except IdentifierError as exc:
            problems.append(str(exc.message))
            number = None

        name = clean_text(cells[c.name])
        if not name:
            problems.append(_("氏名が空です。"))
        elif len(name) > _MAX_NAME:
            problems.append(_too_long(COLUMN_NAME, _MAX_NAME))

        birth_date: date | None
        try:
            birth_date = parse_birth_date(cells[c.birth_date], today=self.today)
        except IdentifierError as exc:
            problems.append(str(exc.message))
            birth_date = None

        atena = self._optional(cells, c.atena_number, clean_atena_number, problems)
        kana = self._optional(cells, c.name_kana, _clean_kana, problems)
        if kana is not None and len(kana) > _MAX_KANA:
            problems.append(_too_long(COLUMN_NAME_KANA, _MAX_KANA))
        sex = self._optional(cells, c.sex, parse_sex, problems)
        phone = self._optional(cells, c.phone, normalize_phone, problems)
        postal_code = self._optional(cells, c.postal_code, _clean_postal_code, problems)
        address = self._optional(cells, c.address, clean_text, problems)
        if address is not None and len(address) > _MAX_ADDRESS:
            problems.append(_too_long(COLUMN_ADDRESS, _MAX_ADDRESS))
        sms_consent: bool | None = None
        if c.sms_consent is not None:
            try:
                sms_consent = _clean_sms_consent(cells[c.sms_consent])
            except IdentifierError as exc:
                problems.append(str(exc.message))

        key = f"{code}:{number}" if code is not None and number is not None else None
        if problems or code is None or number is None or birth_date is None:
            return None, key, problems
        row = _Row(
            line=line,
            municipality_code=code,
            ticket_number=number,
            name=name,
            birth_date=birth_date,
            atena_number=atena,
            name_kana=kana,
            sex=sex,
            phone=phone,
            postal_code=postal_code,
            address=address,
            sms_consent=sms_consent,
        )
        return row, key, problems

    def _municipality_code(self, cells: list[str], problems: list[str]) -> str | None:
        index = self.columns.municipality
        raw = cells[index] if index is not None else ""
        if not raw.strip():
            if self.default_code is None:
                problems.append(_("自治体コードが空です。"))
            return self.default_code
        try:
            code = normalize_municipality_code(raw)
        except IdentifierError as exc:
            problems.append(str(exc.message))
            return None
        if self.default_code is not None and code != self.default_code:
            problems.append(
                _("自治体コード（%(code)s）が指定された自治体コード（%(expected)s）と違います。")
                % {"code": code, "expected": self.default_code}
            )
            return None
        return code

    @staticmethod
    def _optional(
        cells: list[str],
        index: int | None,
        clean: Callable[[str], str],
        problems: list[str],
    ) -> str | None:
        if index is None:
            return None
        raw = cells[index]
        if not raw.strip():
            return None
        try:
            return clean(raw) or None
        except IdentifierError as exc:
            problems.append(str(exc.message))
            return None


# ---------------------------------------------------------------------------
# Applying valid rows
# ---------------------------------------------------------------------------


def _apply_fields(resident: Resident, row: _Row) -> bool:
    """Copy what the row says onto the resident; True if anything changed."""
    changed = False
    for name in _UPDATABLE_FIELDS:
        value = getattr(row, name)
        if value is not None and getattr(resident, name) != value:
            setattr(resident, name, value)
            changed = True
    return changed


class _ChunkWriter:
    """Applies chunks of valid rows inside the import's transaction."""

    def __init__(self, report: ResidentImportReport) -> None:
        self.report = report
        # A list holds few municipalities; remembering them all is cheap.
        self.municipality_ids: dict[str, int] = {}

    def _resolve_municipalities(self, codes: set[str]) -> None:
        missing = codes - self.municipality_ids.keys()
        if not missing:
            return
        found = Municipality.objects.filter(code__in=missing).values_list("code", "id")
        self.municipality_ids.update(found)
        for code in sorted(missing - self.municipality_ids.keys()):
            # Only valid codes get here (the check digit was verified). The name is left for an
            # administrator: we have no authoritative code → name table to fill it from.
            self.municipality_ids[code] = Municipality.objects.create(code=code).pk
            self.report.municipalities_created.append(code)

    def apply(self, rows: list[_Row]) -> None:
        if not rows:
            return
        report = self.report
        self._resolve_municipalities({row.municipality_code for row in rows})
        ids = self.municipality_ids
        municipality_ids = {ids[row.municipality_code] for row in rows}

        tickets: dict[tuple[int, str], Ticket] = {}
        # One Python object per resident row, so that two tickets of one person in the same
        # chunk update the same instance.
        residents: dict[int, Resident] = {}
        by_atena: dict[tuple[int, str], Resident] = {}

        def remember(resident: Resident) -> Resident:
            known = residents.setdefault(resident.pk, resident)
            if known.atena_number:
                by_atena[(known.municipality_id, known.atena_number)] = known
            return known

        for found in Ticket.objects.filter(
            municipality_id__in=municipality_ids,
            number__in={row.ticket_number for row in rows},
        ).select_related("resident"):
            found.resident = remember(found.resident)
            tickets[(found.municipality_id, found.number)] = found
        atenas = {row.atena_number for row in rows if row.atena_number}
        if atenas:
            # The explicit exclude lets SQLite use the partial unique index on
            # (municipality, atena_number) instead of scanning the municipality's residents.
            for resident in Resident.objects.filter(
                municipality_id__in=municipality_ids, atena_number__in=atenas
            ).exclude(atena_number=""):
                remember(resident)

        new_residents: list[Resident] = []
        new_tickets: list[Ticket] = []
        dirty: dict[int, Resident] = {}
        renumbered: set[int] = set()

        for row in rows:
            municipality_id = ids[row.municipality_code]
            ticket = tickets.get((municipality_id, row.ticket_number))
            if ticket is not None:
                resident = ticket.resident
                problem = self._claim_atena(resident, row, municipality_id, by_atena, renumbered)
                if problem is not None:
                    report.errors.append(RowError(row.line, problem))
                    continue
                if _apply_fields(resident, row):
                    dirty[resident.pk] = resident
                    report.updated += 1
                else:
                    report.unchanged += 1
                continue

            holder = by_atena.get((municipality_id, row.atena_number)) if row.atena_number else None
            if holder is None:
                holder = Resident(
                    municipality_id=municipality_id,
                    atena_number=row.atena_number or "",
                    name=row.name,
                    name_kana=row.name_kana or "",
                    birth_date=row.birth_date,
                    sex=row.sex or Resident.Sex.UNKNOWN,
                    phone=row.phone or "",
                    postal_code=row.postal_code or "",
                    address=row.address or "",
                    # Transactional messages go to the number on file until the resident opts
                    # out (DESIGN.md §3, channels.md).
                    sms_consent=row.sms_consent if row.sms_consent is not None else True,
                )
                new_residents.append(holder)
                if row.atena_number:
                    by_atena[(municipality_id, row.atena_number)] = holder
                report.residents_created += 1
            elif _apply_fields(holder, row) and holder.pk is not None:
                # A reissued or new-campaign ticket for someone we know: same person, new ticket.
                dirty[holder.pk] = holder
            new_tickets.append(
                Ticket(municipality_id=municipality_id, number=row.ticket_number, resident=holder)
            )
            report.created += 1

        if dirty:
            if renumbered:
                # A chunk may move 宛名番号 between residents (A→B while C→A). The unique index is
                # checked row by row during one UPDATE, so clear the moved numbers first ("" is
                # outside the partial index) and then write the final values.
                Resident.objects.filter(pk__in=renumbered).update(atena_number="")
            now = timezone.now()
            for resident in dirty.values():
                # bulk_update does not run auto_now.
                resident.updated_at = now
            Resident.objects.bulk_update(
                list(dirty.values()), fields=[*_UPDATABLE_FIELDS, "updated_at"]
            )
        if new_residents:
            # After the updates: a new resident may take a 宛名番号 another one just gave up.
            Resident.objects.bulk_create(new_residents)
        if new_tickets:
            Ticket.objects.bulk_create(new_tickets)

    @staticmethod
    def _claim_atena(
        resident: Resident,
        row: _Row,
        municipality_id: int,
        by_atena: dict[tuple[int, str], Resident],
        renumbered: set[int],
    ) -> str | None:
        """Let the resident take the row's 宛名番号, or say why not."""
        wanted = row.atena_number
        if wanted is None or wanted == resident.atena_number:
            return None
        holder = by_atena.get((municipality_id, wanted))
        if holder is not None and holder is not resident:
            return _(
                "宛名番号が、この接種券の住民とは別の住民に登録されています。"
                "接種券番号と宛名番号の組み合わせをご確認ください。"
            )
        if resident.atena_number:
            by_atena.pop((municipality_id, resident.atena_number), None)
            renumbered.add(resident.pk)
        by_atena[(municipality_id, wanted)] = resident
        return None


# ---------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------


def encoding_label(encoding: str, bom: bool) -> str:
    if encoding == _ENCODING_CP932:
        return "Shift_JIS (CP932)"
    return "UTF-8 (BOM)" if bom else "UTF-8"


def _today_in_japan() -> date:
    return timezone.localdate(timezone.now(), timezone=timezone.get_fixed_timezone(9 * 60))


def resident_import(
    *,
    stream: BinaryIO,
    default_municipality_code: str | None,
    dry_run: bool,
    skip_invalid: bool,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ResidentImportReport:
    """Import a ticket list (CSV bytes, UTF-8 with or without BOM, or CP932).

    ``default_municipality_code`` fills rows whose 自治体コード is absent or blank; a row naming
    another municipality is bad. If any row is bad nothing is written unless ``skip_invalid``,
    which writes the good rows. ``dry_run`` does all the work and rolls it back. ``progress`` is
    called with the number of data rows read since its last call.

    Raises :class:`ResidentImportFileError` when the file cannot be imported at all.
    """
    default_code: str | None = None
    if default_municipality_code is not None and default_municipality_code.strip():
        try:
            default_code = normalize_municipality_code(default_municipality_code)
        except IdentifierError as exc:
            raise ResidentImportFileError(
                "municipality_code_invalid",
                _("指定された自治体コードが正しくありません。%(reason)s") % {"reason": exc.message},
            ) from None

    head = read_head(stream)
    encoding, bom = detect_encoding(head)
    lines = DecodedLines(byte_lines(head[3:] if bom else head, stream), encoding)
    reader = csv.reader(lines)

    header: list[str] | None = None
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                header = cells
                break
    except csv.Error as exc:
        raise ResidentImportFileError(
            "csv_invalid",
            _("%(line)d行目をCSVとして読めません（%(detail)s）。")
            % {"line": reader.line_num, "detail": exc},
        ) from None
    if header is None:
        raise ResidentImportFileError(
            "header_missing", _("ファイルが空です（見出し行がありません）。")
        )
    if lines.take_undecodable():
        raise ResidentImportFileError(
            "encoding_invalid",
            _("見出し行の文字を読み取れません。UTF-8 か Shift_JIS で保存してください。"),
        )
    # line_num is the header's last line; a quoted cell may span lines, so count back to its first.
    header_first_line = reader.line_num - sum(cell.count("\n") for cell in header)
    header_control = control_character_problem(header, header_first_line)
    if header_control is not None:
        # A header with NUL is a broken file or not a list at all; nothing below is trusted.
        raise ResidentImportFileError(
            "control_character",
            _("%(line)d行目（見出し行）: %(problem)s")
            % {"line": header_control[0], "problem": header_control[1]},
        )
    columns, warnings = _map_columns(header, need_municipality=default_code is None)

    report = ResidentImportReport(
        encoding=encoding_label(encoding, bom), dry_run=dry_run, warnings=warnings
    )
    parser = _RowParser(columns, default_code, _today_in_japan())
    writer = _ChunkWriter(report)
    # Kept for the whole file to find duplicates: about 100 bytes per row, the one thing that
    # grows with the file (a 100,000-row list costs ~10 MB).
    first_line_of: dict[str, int] = {}

    with transaction.atomic():
        chunk: list[_Row] = []
        unreported = 0
        last_line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # Usually an unbalanced quote that swallowed the rest of the file: nothing after
                # it can be trusted, so the whole import stops (and rolls back).
                raise ResidentImportFileError(
                    "csv_invalid",
                    _(
                        "%(line)d行目付近をCSVとして読めません（%(detail)s）。"
                        "引用符の対応をご確認ください。"
                    )
                    % {"line": last_line + 1, "detail": exc},
                ) from None
            line = last_line + 1
            last_line = reader.line_num
            undecodable = lines.take_undecodable()
            if not undecodable and not any(cell.strip() for cell in cells):
                continue  # blank line, or a row of empty cells left by a spreadsheet
            report.rows += 1
            unreported += 1
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
                # NUL and other control characters are never data, and PostgreSQL cannot store
                # NUL at all: the row is bad, named by the line the character is on.
                report.errors.append(RowError(*control))
                continue
            row, key, problems = parser.parse(cells, line)
            if key is not None:
                first = first_line_of.setdefault(key, line)
                if first != line:
                    problems.append(
                        _("接種券番号が%(line)d行目と重複しています。") % {"line": first}
                    )
                    row = None
            if problems:
                report.errors.append(RowError(line, " ".join(problems)))
            elif row is not None:
                chunk.append(row)
                if len(chunk) >= chunk_size:
                    writer.apply(chunk)
                    chunk = []
            if progress is not None and unreported >= chunk_size:
                progress(unreported)
                unreported = 0
        writer.apply(chunk)
        if progress is not None and unreported:
            progress(unreported)

        report.errors.sort(key=lambda error: error.line)
        report.committed = not dry_run and (skip_invalid or not report.errors)
        if not report.committed:
            transaction.set_rollback(True)
    return report
