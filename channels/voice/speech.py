"""Numbers, dates and times as a Japanese text-to-speech voice should read them: numbers digit
by digit (a booking number read as "ひゃくにじゅうさん…" cannot be written down), dates in the
era calendar people use (令和8年12月8日), times with 午前/午後."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from reservations.identifiers import format_wareki

WEEKDAYS = "月火水木金土日"
_DIGIT_WORDS = {
    "0": "ゼロ",
    "1": "いち",
    "2": "に",
    "3": "さん",
    "4": "よん",
    "5": "ご",
    "6": "ろく",
    "7": "なな",
    "8": "はち",
    "9": "きゅう",
}
_DIGIT_WORDS_EN = {
    str(n): word
    for n, word in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
}


def digits_spoken(number: str, *, language: str = "ja") -> str:
    """Each digit as a word, separated by pauses (、): 0312 → ゼロ、さん、いち、に."""
    words = _DIGIT_WORDS_EN if language == "en" else _DIGIT_WORDS
    spoken = [words[ch] for ch in number if ch in words]
    return (", " if language == "en" else "、").join(spoken)


def date_spoken(day: dt.date, *, language: str = "ja") -> str:
    if language == "en":
        return f"{day:%A}, {day:%B} {day.day}"
    return f"{format_wareki(day)}、{WEEKDAYS[day.weekday()]}曜日"


def time_spoken(moment: dt.datetime | dt.time, *, language: str = "ja") -> str:
    local = timezone.localtime(moment).time() if isinstance(moment, dt.datetime) else moment
    if language == "en":
        suffix = "a.m." if local.hour < 12 else "p.m."
        hour = local.hour % 12 or 12
        return f"{hour}:{local.minute:02d} {suffix}" if local.minute else f"{hour} {suffix}"
    half = "午前" if local.hour < 12 else "午後"
    hour = local.hour if local.hour <= 12 else local.hour - 12
    minutes = "" if local.minute == 0 else f"{local.minute}分"
    return f"{half}{hour}時{minutes}"
