"""Dates whose year, month and day are written in kanji numerals (hand-typed lists, OCR)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from reservations.identifiers import (
    IdentifierError,
    format_wareki,
    parse_birth_date,
    parse_date_loose,
)

TODAY = date(2024, 6, 1)

_ONES = "〇一二三四五六七八九"


def _kanji_with_units(n: int) -> str:
    """1..99 the way people write them (十, 二十二, 三十一): written here, not with kanjize,
    so the test does not check the library against itself."""
    tens, ones = divmod(n, 10)
    text = ("" if tens < 2 else _ONES[tens]) + ("十" if tens else "")
    return text + (_ONES[ones] if ones else "")


def _kanji_digit_by_digit(n: int) -> str:
    return "".join(_ONES[int(d)] for d in str(n))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("昭和二十二年五月三日", date(1947, 5, 3)),
        ("令和元年五月一日", date(2019, 5, 1)),
        ("平成三十一年四月三十日", date(2019, 4, 30)),
        ("二〇二四年四月一日", date(2024, 4, 1)),
        ("二千二十四年四月一日", date(2024, 4, 1)),
        ("一九四七年五月三日", date(1947, 5, 3)),
        ("千九百四十七年五月三日", date(1947, 5, 3)),
        ("昭和22年五月3日", date(1947, 5, 3)),  # mixed, field by field
        ("昭和二二年〇五月〇三日", date(1947, 5, 3)),
        ("二零二四年四月一日", date(2024, 4, 1)),  # 零 for zero, as some write it
        ("令和五年十二月十日", date(2023, 12, 10)),
        ("Ｒ六年四月一日", date(2024, 4, 1)),  # era letter, full width
        (" 昭和 二十二年 五月 三日 ", date(1947, 5, 3)),
    ],
)
def test_it_reads_kanji_numerals_in_dates(typed: str, expected: date) -> None:
    assert parse_date_loose(typed) == expected
    assert parse_birth_date(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("平成三十一年五月一日", "元号と日付が合っていません"),  # Reiwa by then
        ("昭和二十二年二月三十日", "存在しない日付です"),
        ("昭和二十二年十三月一日", "存在しない日付です"),
        ("昭和〇年五月三日", "元号と日付が合っていません"),
        ("一九四十七年五月三日", "読み取れませんでした"),  # neither digit by digit nor units
        ("二十二十年一月一日", "読み取れませんでした"),
        ("二十四年四月一日", "読み取れませんでした"),  # a year needs four digits or an era
        ("昭和百年一月一日", "読み取れませんでした"),  # an era year has at most two digits
        ("昭和二十二.五.三", "読み取れませんでした"),  # kanji only in the 年月日 form
        ("S二十二0503", "読み取れませんでした"),
        ("令和元年元月一日", "読み取れませんでした"),  # 元 is a year, never a month
    ],
)
def test_it_refuses_kanji_dates_that_are_wrong_with_the_usual_messages(
    typed: str, problem: str
) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        parse_date_loose(typed)
    assert exc_info.value.code == "date_invalid"
    assert problem in str(exc_info.value.message)
    with pytest.raises(IdentifierError) as birth:
        parse_birth_date(typed, today=TODAY)
    assert birth.value.code == "birth_date_invalid"


def test_it_refuses_a_future_birth_date_written_in_kanji() -> None:
    assert parse_birth_date("令和六年六月一日", today=TODAY) == TODAY
    with pytest.raises(IdentifierError) as exc_info:
        parse_birth_date("令和六年六月二日", today=TODAY)
    assert "未来" in str(exc_info.value.message)


def test_it_reads_every_day_written_in_kanji_as_the_same_day_in_digits() -> None:
    # Every day of 1989-2020 (across Showa → Heisei → Reiwa), 和暦 with units and 西暦 digit by
    # digit, against the same date written by format_wareki in digits.
    day = date(1989, 1, 1)
    while day <= date(2020, 12, 31):
        wareki = format_wareki(day)
        era, rest = wareki[:2], wareki[2:]
        year_text = rest[: rest.index("年")]
        year = year_text if year_text == "元" else _kanji_with_units(int(year_text))
        month, dom = _kanji_with_units(day.month), _kanji_with_units(day.day)
        assert parse_date_loose(f"{era}{year}年{month}月{dom}日") == day
        seireki = f"{_kanji_digit_by_digit(day.year)}年{month}月{dom}日"
        assert parse_date_loose(seireki) == day
        day += timedelta(days=1)
