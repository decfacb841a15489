"""MHLW date arithmetic (domain.md §2.1)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from reservations.rules.dates import (
    add_months,
    age_in_months_on,
    age_in_years_on,
    age_reached_on,
    earliest_after_days_gap,
    fiscal_year_end,
)

D = dt.date


def test_it_counts_days_gap_as_day_n_plus_one() -> None:
    # Pfizer "18日以上": Thursday 6/3 → Tuesday 6/22 (day 19).
    assert earliest_after_days_gap(D(2021, 6, 3), 18) == D(2021, 6, 22)
    # "27日以上" is four weeks later, same weekday.
    assert earliest_after_days_gap(D(2021, 8, 2), 27) == D(2021, 8, 30)


def test_it_adds_months_to_the_same_day() -> None:
    assert add_months(D(2022, 7, 15), 3) == D(2022, 10, 15)
    assert add_months(D(2022, 11, 15), 3) == D(2023, 2, 15)


def test_it_moves_a_missing_day_to_the_first_of_next_month() -> None:
    # MHLW: 11/30 + 3 months → from 3/1 (not 2/28).
    assert add_months(D(2022, 11, 30), 3) == D(2023, 3, 1)
    assert add_months(D(2023, 8, 31), 1) == D(2023, 10, 1)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 3, 1)  # 2024 is a leap year: 2/31 missing
    assert add_months(D(2024, 1, 29), 1) == D(2024, 2, 29)


def test_it_reaches_an_age_the_day_before_the_birthday() -> None:
    assert age_reached_on(D(2010, 6, 15), 12 * 12) == D(2022, 6, 14)
    assert age_in_years_on(D(2010, 6, 15), D(2022, 6, 13)) == 11
    assert age_in_years_on(D(2010, 6, 15), D(2022, 6, 14)) == 12


def test_it_handles_leap_day_birthdays() -> None:
    # Born 2/29: the anniversary in a common year is treated as 3/1, so the age is reached 2/28.
    assert age_reached_on(D(2000, 2, 29), 12) == D(2001, 2, 28)
    assert age_in_years_on(D(2000, 2, 29), D(2001, 2, 27)) == 0
    assert age_in_years_on(D(2000, 2, 29), D(2001, 2, 28)) == 1


def test_it_finds_the_fiscal_year_end() -> None:
    assert fiscal_year_end(D(2021, 5, 17)) == D(2022, 3, 31)
    assert fiscal_year_end(D(2022, 3, 31)) == D(2022, 3, 31)
    assert fiscal_year_end(D(2022, 4, 1)) == D(2023, 3, 31)


@given(st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1)), st.integers(0, 1200))
def test_it_keeps_age_and_reach_date_consistent(birth: dt.date, months: int) -> None:
    reached = age_reached_on(birth, months)
    assert age_in_months_on(birth, reached) >= months
    if months > 0 and reached > birth:
        assert age_in_months_on(birth, reached - dt.timedelta(days=1)) < months


@given(st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1)), st.integers(0, 60))
def test_it_never_goes_backwards_adding_months(day: dt.date, months: int) -> None:
    later = add_months(day, months)
    assert later >= day
    assert add_months(day, months + 1) > later
