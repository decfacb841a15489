"""MHLW date arithmetic for intervals and ages (domain.md §2.1). Build it once, test it hard.

- "N日以上の間隔をおいて": the earliest date is the previous date + (N + 1) days.
- "Nか月以上": the same day-of-month N months later; when that day does not exist the interval
  completes at the end of that month, so the earliest date is the 1st of the following month
  (MHLW: 11/30 + 3 months → from 3/1; some cities publish "last day of month", which is wrong).
- Ages (年齢計算ニ関スル法律): a person reaches age X at the end of the day before their Xth
  birthday, so "X歳以上" holds from the day before the birthday.
"""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day-of-month `months` later, or the 1st of the next month if that day is missing."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    if day.day <= last_day:
        return day.replace(year=year, month=month, day=day.day)
    return (day.replace(year=year, month=month, day=last_day)) + dt.timedelta(days=1)


def earliest_after_days_gap(previous: dt.date, gap_days: int) -> dt.date:
    """'N日以上の間隔をおいて' after `previous`: N whole days in between, so day N + 1."""
    return previous + dt.timedelta(days=gap_days + 1)


def earliest_after_months(previous: dt.date, months: int) -> dt.date:
    return add_months(previous, months)


def age_reached_on(birth_date: dt.date, months: int) -> dt.date:
    """The first date on which the person counts as `months` old (day before the anniversary)."""
    if months == 0:
        return birth_date
    return add_months(birth_date, months) - dt.timedelta(days=1)


def age_in_months_on(birth_date: dt.date, on: dt.date) -> int:
    """Completed months of age on `on`, under the same legal rule."""
    if on < birth_date:
        return -1
    months = (on.year - birth_date.year) * 12 + (on.month - birth_date.month)
    months = max(months, 0)
    while age_reached_on(birth_date, months + 1) <= on:
        months += 1
    while months > 0 and age_reached_on(birth_date, months) > on:
        months -= 1
    return months


def age_in_years_on(birth_date: dt.date, on: dt.date) -> int:
    return age_in_months_on(birth_date, on) // 12


def fiscal_year_end(on: dt.date) -> dt.date:
    """March 31 that closes the Japanese fiscal year (April–March) containing `on`."""
    year = on.year if on.month <= 3 else on.year + 1
    return dt.date(year, 3, 31)
