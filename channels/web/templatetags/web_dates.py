"""Dates as residents read them: western with the weekday, and 和暦 beside it."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language

from reservations.identifiers import IdentifierError, format_reservation_code, format_wareki
from reservations.localized import reads_english

register = template.Library()


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localdate(value)
    return value


@register.filter
def western(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    day = _as_date(value)
    weekday = formats.date_format(day, "D")
    if (get_language() or "ja").startswith("ja"):
        return f"{day.year}年{day.month}月{day.day}日（{weekday}）"
    return f"{formats.date_format(day, 'D j M Y')}"


@register.filter
def wareki(value: dt.date | dt.datetime | None) -> str:
    # English pages show the western date alone: 令和8年12月8日 means nothing to their reader.
    if value is None or reads_english():
        return ""
    try:
        return format_wareki(_as_date(value))
    except IdentifierError:
        return ""


@register.filter
def long_date(value: dt.date | dt.datetime | None) -> str:
    """A date in a sentence: 2026年12月8日（令和8年12月8日） in Japanese, the western date alone
    in English."""
    if value is None:
        return ""
    day = _as_date(value)
    if not (get_language() or "ja").startswith("ja"):
        return western(day)
    japanese = f"{day.year}年{day.month}月{day.day}日"
    era = wareki(day)
    return f"{japanese}（{era}）" if era else japanese


@register.filter
def clock(value: dt.datetime | None) -> str:
    return "" if value is None else timezone.localtime(value).strftime("%H:%M")


@register.filter
def reservation_code(value: str) -> str:
    try:
        return format_reservation_code(value)
    except IdentifierError:
        return value
