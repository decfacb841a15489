"""One search box for the caller: ticket number, name (kana or kanji), birth date, phone.

Each whitespace-separated word is read as the most specific thing it can be: a 10-digit
ticket number (full-width digits and any dashes allowed), a birth date (西暦 or 和暦), a phone
number, otherwise part of a name. Every word must match, so "ヤマダ S25.3.1" narrows to one
person. Names are compared without spaces, with hiragana and half-width kana folded to
full-width katakana, the form the register stores.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
from dataclasses import dataclass, field

import jaconv
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Replace

from reservations.identifiers import (
    IdentifierError,
    normalize_number_input,
    normalize_phone,
    parse_birth_date,
)
from reservations.models import Municipality, Resident

RESULT_LIMIT = 20


@dataclass
class ParsedQuery:
    tickets: list[str] = field(default_factory=list)
    birth_dates: list[dt.date] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.tickets or self.birth_dates or self.phones or self.names)


def fold_name(text: str) -> str:
    """Hiragana and half-width kana to full-width katakana; spaces dropped. Kanji unchanged
    (NFKC is not applied to whole names: it would rewrite compatibility ideographs)."""
    text = jaconv.h2z(text, kana=True, ascii=False, digit=False)
    text = jaconv.hira2kata(text)
    return "".join(ch for ch in text if not ch.isspace())


def _looks_numeric(word: str) -> bool:
    digits = normalize_number_input(word)
    return bool(digits) and all(ch.isdigit() or ch in "+()." for ch in digits)


def _read_word(word: str, parsed: ParsedQuery, *, today: dt.date) -> None:
    digits = normalize_number_input(word)
    if digits.isascii() and digits.isdigit() and len(digits) == 10:
        # Ten digits can be a ticket number or a landline without its separators; both are
        # searched and either may match.
        parsed.tickets.append(digits)
        if digits.startswith("0"):
            with contextlib.suppress(IdentifierError):
                parsed.phones.append(normalize_phone(digits))
        return
    with contextlib.suppress(IdentifierError):
        parsed.birth_dates.append(parse_birth_date(word, today=today))
        return
    if _looks_numeric(word):
        with contextlib.suppress(IdentifierError):
            parsed.phones.append(normalize_phone(word))
            return
    parsed.names.append(fold_name(word))


def _recognised(word: str, *, today: dt.date) -> bool:
    probe = ParsedQuery()
    _read_word(word, probe, today=today)
    return not probe.names


def parse_query(text: str, *, today: dt.date) -> ParsedQuery:
    parsed = ParsedQuery()
    words = unicodedata.normalize("NFC", text).split()
    index = 0
    while index < len(words):
        # Numbers are often typed in the groups they are read out in ("090 1234 5678"): the
        # longest run of numeric words that reads as one number is taken as one word.
        run = index
        while run < len(words) and _looks_numeric(words[run]):
            run += 1
        for end in range(run, index + 1, -1):
            joined = "".join(words[index:end])
            if _recognised(joined, today=today):
                _read_word(joined, parsed, today=today)
                index = end
                break
        else:
            _read_word(words[index], parsed, today=today)
            index += 1
    return parsed


def _without_spaces(field_name: str) -> Replace:
    return Replace(Replace(F(field_name), Value(" "), Value("")), Value("\u3000"), Value(""))


def resident_search(
    *, text: str, municipality: Municipality, today: dt.date
) -> tuple[ParsedQuery, QuerySet[Resident]]:
    """Residents of `municipality` matching every word of `text` (at most RESULT_LIMIT)."""
    parsed = parse_query(text, today=today)
    residents = Resident.objects.filter(municipality=municipality)
    if parsed.is_empty:
        return parsed, residents.none()
    residents = residents.annotate(
        kana_folded=_without_spaces("name_kana"), name_folded=_without_spaces("name")
    )
    # A ten-digit word may be either a ticket or a phone number: either may match.
    numbers = Q()
    if parsed.tickets:
        numbers |= Q(tickets__number__in=parsed.tickets)
    if parsed.phones:
        numbers |= Q(phone__in=parsed.phones)
    if numbers:
        residents = residents.filter(numbers)
    for birth_date in parsed.birth_dates:
        residents = residents.filter(birth_date=birth_date)
    for name in parsed.names:
        residents = residents.filter(Q(kana_folded__contains=name) | Q(name_folded__contains=name))
    return parsed, residents.distinct().order_by("name_kana", "birth_date", "pk")[:RESULT_LIMIT]
