"""The two VRS file layouts, the municipal register's layout (docs/register_export.md), and the
checks every record passes before it may leave (vrs.md §8).

Pure functions over plain values: the export streams rows out of the database as tuples and
hands them here, so the rules are testable without a database and cost no model instances.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jaconv
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reservations.csv_safety import starts_like_formula
from reservations.identifiers import is_valid_municipality_code

JST = dt.timezone(dt.timedelta(hours=9))
FIRST_COVID_DOSE_DATE = dt.date(2021, 2, 17)
FIRST_COVID_DOSE_DIGITS = "20210217"

LEDGER_BLOCK_FIELDS = (
    "接種履歴登録日時",
    "接種日",
    "券番号",
    "接種自治体コード",
    "接種会場名",
    "接種医師名",
    "ワクチンメーカー",
    "ワクチンロット番号",
)
LEDGER_FIRST_COLUMN = "個別宛名番号(空欄)"

EVENTS_HEADER = (
    "レコードID",
    "版数",
    "処理区分",
    "住民自治体コード",
    "個別宛名番号",
    "券番号",
    "接種回数",
    "接種日",
    "接種履歴登録日時",
    "接種自治体コード",
    "接種会場コード",
    "接種会場名",
    "接種医師名",
    "ワクチンメーカー",
    "ワクチン販売名",
    "ワクチンコード体系",
    "ワクチンコード",
    "ロット番号",
    "予約経路",
    "確定フラグ",
)

# The municipal 予防接種台帳 (docs/register_export.md): one row per dose of any programme. The
# last four columns are ours, so our reconciliation can read the file back and a corrected
# dose is recognisable (same 記録ID, higher 版数).
REGISTER_HEADER = (
    "宛名番号",
    "氏名カナ",
    "生年月日",
    "接種日",
    "ワクチン",
    "ロット",
    "医療機関",
    "医師",
    "自己負担区分",
    "接種回数",
    "接種事業",
    "記録ID",
    "版数",
)

# 処理区分 (vrs.md §8.3)
KIND_NEW = "1"
KIND_CORRECTION = "2"
KIND_CANCELLATION = "3"

# Our booking channel → 予約経路. "API" is our extension: vrs.md's list has no partner systems.
CHANNEL_LABELS = {"web": "WEB", "line": "LINE", "phone": "TEL", "counter": "窓口", "api": "API"}

_TICKET = re.compile(r"^[0-9]{10}$")
# Not starting with "-": a spreadsheet would read "-A1" as a formula (reservations.csv_safety).
_LOT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$")
_DATE8 = re.compile(r"^[0-9]{8}$")
_STAMP14 = re.compile(r"^[0-9]{14}$")
# Full-width katakana (ァ..ヶ), the long vowel mark and the middle dot of foreign names, words
# separated by one ideographic space.
_KATAKANA_WORD = "[\u30a1-\u30f6\u30fb\u30fc]+"
_KATAKANA_NAME = re.compile(f"^{_KATAKANA_WORD}(?:\u3000{_KATAKANA_WORD})*$")
_SPACES = re.compile("[ \u3000]+")

LIMITS = {"atena": 15, "site": 30, "doctor": 20, "maker": 20, "brand": 40, "site_code": 20}
# The register's own column: as long as Resident.name_kana may be.
KANA_LIMIT = 100
# Lazy: translated only when a record fails, not once per row of a million-row file.
_LABEL_ATENA = gettext_lazy("個別宛名番号")
_LABEL_SITE = gettext_lazy("接種会場名")
_LABEL_DOCTOR = gettext_lazy("接種医師名")
_LABEL_BRAND = gettext_lazy("ワクチン販売名")
_LABEL_REGISTER_ATENA = gettext_lazy("宛名番号")
_LABEL_KANA = gettext_lazy("氏名カナ")
_LABEL_VACCINE = gettext_lazy("ワクチン")
_LABEL_FACILITY = gettext_lazy("医療機関")
_LABEL_PHYSICIAN = gettext_lazy("医師")


def ledger_header(blocks: int) -> list[str]:
    header = [LEDGER_FIRST_COLUMN]
    for n in range(1, blocks + 1):
        header.extend(f"{n}回目{name}" for name in LEDGER_BLOCK_FIELDS)
    return header


def format_date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def format_timestamp(value: dt.datetime) -> str:
    """YYYYMMDDHHMMSS in JST, whatever zone the database handed back."""
    return value.astimezone(JST).strftime("%Y%m%d%H%M%S")


def parse_date8(value: str) -> dt.date:
    """A VRS date field. Refuses ISO strings and impossible dates (20210230)."""
    if not _DATE8.match(value):
        raise ValueError(_("日付はYYYYMMDDの8桁で指定してください: %(value)s") % {"value": value})
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ValueError(_("存在しない日付です: %(value)s") % {"value": value}) from None


def parse_timestamp14(value: str) -> dt.datetime:
    """A VRS timestamp (YYYYMMDDHHMMSS, JST). `2021-04-12 09:30` is refused, not guessed."""
    if not _STAMP14.match(value):
        raise ValueError(
            _("日時はYYYYMMDDHHMMSSの14桁で指定してください: %(value)s") % {"value": value}
        )
    try:
        return dt.datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=JST)
    except ValueError:
        raise ValueError(_("存在しない日時です: %(value)s") % {"value": value}) from None


def maker_labels() -> frozenset[str]:
    return frozenset(settings.VRS_MAKER_LABELS)


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose as the export sees it; strings are already what goes into the file."""

    pk: int
    record_id: str
    version: int
    kind: str
    resident_id: int
    resident_municipality: str
    atena_number: str
    ticket_number: str
    dose_number: int
    # Dates as the file writes them (YYYYMMDD, and YYYYMMDDHHMMSS in JST), formatted by the
    # database: a million rows are then never parsed into date objects and back. Fixed-width
    # digit strings compare in the same order as the dates they spell.
    vaccinated_on: str
    registered_at: str
    given_in: str
    site_code: str
    site_name: str
    doctor_name: str
    maker: str
    brand: str
    lot_number: str
    channel: str
    confirmed: bool
    previous_dose_on: str
    has_duplicate: bool

    @property
    def label(self) -> str:
        return _("%(record)s 第%(version)s版（券番号 %(ticket)s、%(dose)s回目）") % {
            "record": self.record_id,
            "version": self.version,
            "ticket": self.ticket_number,
            "dose": self.dose_number,
        }

    def ledger_block(self) -> list[str]:
        return [
            self.registered_at,
            self.vaccinated_on,
            self.ticket_number,
            self.given_in,
            self.site_name,
            self.doctor_name,
            self.maker,
            self.lot_number,
        ]

    def events_row(self) -> list[str]:
        return [
            self.record_id,
            str(self.version),
            self.kind,
            self.resident_municipality,
            self.atena_number,
            self.ticket_number,
            str(self.dose_number),
            self.vaccinated_on,
            self.registered_at,
            self.given_in,
            self.site_code,
            self.site_name,
            self.doctor_name,
            self.maker,
            self.brand,
            "",
            "",
            self.lot_number,
            self.channel,
            "1" if self.confirmed else "0",
        ]


def fold_kana(value: str) -> str:
    """A stored kana name as the register writes it: half-width kana and hiragana become
    full-width katakana, runs of spaces one ideographic space. Anything else (kanji, letters)
    is left as it is for `register_problems` to refuse."""
    text = jaconv.hira2kata(jaconv.h2z(value, kana=True, ascii=False, digit=False))
    return _SPACES.sub("\u3000", text).strip("\u3000")


@dataclass(frozen=True, slots=True)
class RegisterDose:
    """One dose as the register export sees it; strings are already what goes into the file."""

    pk: int
    record_id: str
    version: int
    atena_number: str
    name_kana: str
    birth_date: str
    vaccinated_on: str
    vaccine_name: str
    lot_number: str
    site_name: str
    doctor_name: str
    copay_category: str
    dose_number: int
    program_code: str
    # Given elsewhere and imported (VRS, 台帳): its 自己負担区分 was never ours to know.
    given_elsewhere: bool = False

    @property
    def label(self) -> str:
        return _("%(record)s 第%(version)s版（宛名番号 %(atena)s、接種日 %(on)s）") % {
            "record": self.record_id,
            "version": self.version,
            "atena": self.atena_number or _("空欄"),
            "on": self.vaccinated_on,
        }

    def register_row(self) -> list[str]:
        return [
            self.atena_number,
            self.name_kana,
            self.birth_date,
            self.vaccinated_on,
            self.vaccine_name,
            self.lot_number,
            self.site_name,
            self.doctor_name,
            self.copay_category,
            str(self.dose_number),
            self.program_code,
            self.record_id,
            str(self.version),
        ]


def _length(problems: list[str], label: Promise, value: str, limit: int, *, required: bool) -> None:
    if required and not value:
        problems.append(_("%(label)sが空です") % {"label": label})
    elif len(value) > limit:
        problems.append(
            _("%(label)sが%(limit)s文字を超えています（%(count)s文字）")
            % {"label": label, "limit": limit, "count": len(value)}
        )


def dose_problems(
    dose: Dose,
    *,
    today: str,
    strict_sequence: bool,
    makers: frozenset[str] | None = None,
) -> list[str]:
    """Every reason this dose may not be exported (vrs.md §8.4); empty when it may.

    `strict_sequence` is the ledger's rule that doses 1..n are contiguous; the events file may
    carry a dose whose earlier ones were given elsewhere.
    """
    problems: list[str] = []
    if not is_valid_municipality_code(dose.resident_municipality):
        problems.append(_("住民自治体コードが正しくありません"))
    if not is_valid_municipality_code(dose.given_in):
        problems.append(
            _("接種自治体コードが正しくありません（%(code)s）")
            % {"code": dose.given_in or _("空欄")}
        )
    if not _TICKET.match(dose.ticket_number):
        problems.append(_("券番号が10桁の数字ではありません"))
    if not (_DATE8.match(dose.vaccinated_on) and _STAMP14.match(dose.registered_at)):
        problems.append(_("接種日または接種履歴登録日時の形式が正しくありません"))
    if dose.vaccinated_on > today:
        problems.append(_("接種日が未来の日付です"))
    if dose.vaccinated_on < FIRST_COVID_DOSE_DIGITS:
        problems.append(_("接種日が2021年2月17日より前です"))
    if dose.registered_at[:8] < dose.vaccinated_on:
        problems.append(_("接種履歴登録日時が接種日より前です"))
    if dose.kind != KIND_CANCELLATION:
        if dose.previous_dose_on and not dose.previous_dose_on < dose.vaccinated_on:
            problems.append(
                _("前の回（%(date)s）より後の接種日ではありません")
                % {"date": dose.previous_dose_on}
            )
        if not dose.previous_dose_on and dose.dose_number > 1 and strict_sequence:
            problems.append(_("前の回の接種記録がありません"))
        if dose.has_duplicate:
            problems.append(_("同じ回の有効な記録がほかにもあります"))
    _length(problems, _LABEL_ATENA, dose.atena_number, LIMITS["atena"], required=False)
    _length(problems, _LABEL_SITE, dose.site_name, LIMITS["site"], required=True)
    _length(problems, _LABEL_DOCTOR, dose.doctor_name, LIMITS["doctor"], required=True)
    _length(problems, _LABEL_BRAND, dose.brand, LIMITS["brand"], required=False)
    if dose.maker not in (makers if makers is not None else maker_labels()):
        problems.append(
            _("ワクチンメーカー「%(maker)s」は出力できる表記ではありません") % {"maker": dose.maker}
        )
    if not _LOT.match(dose.lot_number):
        problems.append(_("ロット番号が英数字で始まる英数字・ハイフン20文字以内ではありません"))
    # The layout has fixed text fields another system reads back: a leading `'` (how other
    # files neutralise a formula) would become part of the name, so such a value is refused
    # here as it is at entry (a record stored before that check may still hold one).
    for label, value in (
        (_LABEL_ATENA, dose.atena_number),
        (_LABEL_SITE, dose.site_name),
        (_LABEL_DOCTOR, dose.doctor_name),
        (_LABEL_BRAND, dose.brand),
    ):
        if starts_like_formula(value):
            problems.append(
                _("%(label)sが数式として読まれる文字（= + - @ など）で始まっています")
                % {"label": label}
            )
    return problems


def _is_date8(value: str) -> bool:
    try:
        parse_date8(value)
    except ValueError:
        return False
    return True


def register_problems(dose: RegisterDose, *, today: str, copay_codes: frozenset[str]) -> list[str]:
    """Every reason this dose may not go into the register file; empty when it may."""
    problems: list[str] = []
    _length(problems, _LABEL_REGISTER_ATENA, dose.atena_number, LIMITS["atena"], required=True)
    _length(problems, _LABEL_KANA, dose.name_kana, KANA_LIMIT, required=True)
    if dose.name_kana and not _KATAKANA_NAME.match(dose.name_kana):
        problems.append(_("氏名カナにカタカナ以外の文字があります"))
    birth_ok, on_ok = _is_date8(dose.birth_date), _is_date8(dose.vaccinated_on)
    if not birth_ok:
        problems.append(_("生年月日が正しい日付ではありません"))
    if not on_ok:
        problems.append(_("接種日が正しい日付ではありません"))
    if on_ok and dose.vaccinated_on > today:
        problems.append(_("接種日が未来の日付です"))
    if birth_ok and on_ok and dose.birth_date > dose.vaccinated_on:
        problems.append(_("生年月日が接種日より後です"))
    _length(problems, _LABEL_VACCINE, dose.vaccine_name, LIMITS["brand"], required=True)
    if not _LOT.match(dose.lot_number):
        problems.append(_("ロット番号が英数字で始まる英数字・ハイフン20文字以内ではありません"))
    _length(problems, _LABEL_FACILITY, dose.site_name, LIMITS["site"], required=True)
    _length(problems, _LABEL_PHYSICIAN, dose.doctor_name, LIMITS["doctor"], required=True)
    if not dose.copay_category:
        if not dose.given_elsewhere:
            problems.append(_("自己負担区分が未記録です"))
    elif dose.copay_category not in copay_codes:
        problems.append(
            _("自己負担区分「%(code)s」は定められた区分ではありません")
            % {"code": dose.copay_category}
        )
    # Fixed fields another system reads back, as in the VRS layouts: refused, never quoted.
    for label, value in (
        (_LABEL_REGISTER_ATENA, dose.atena_number),
        (_LABEL_VACCINE, dose.vaccine_name),
        (_LABEL_FACILITY, dose.site_name),
        (_LABEL_PHYSICIAN, dose.doctor_name),
    ):
        if starts_like_formula(value):
            problems.append(
                _("%(label)sが数式として読まれる文字（= + - @ など）で始まっています")
                % {"label": label}
            )
    return problems


def encoding_problems(values: Sequence[str], encoding: str) -> list[str]:
    """Characters the target encoding cannot hold. CP932 lacks e.g. 𠮷: refuse, never `?`."""
    try:
        "".join(values).encode(encoding)
    except UnicodeEncodeError:
        bad = sorted({ch for v in values for ch in v if not _encodes(ch, encoding)})
        return [
            _("%(encoding)sで表せない文字があります: %(chars)s")
            % {"encoding": encoding.upper(), "chars": " ".join(bad)}
        ]
    return []


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
