"""Keep residents' identifiers out of the logs.

`RedactPersonalData` sits on every handler in settings.LOGGING. It formats each record once,
replaces what looks like a ticket number, a phone number or a date (a birth date cannot be told
from any other date) with a placeholder, and strips the query string from request paths (the
development server and django.request log `GET /phone/?q=<name>`). Names cannot be recognised
by a pattern: the code logs ids, never names (see the tests).

It errs on the side of hiding: an order id of ten digits or an ordinary date is hidden too.
Settings must not import application code, so the patterns live here, not in
reservations.identifiers.
"""

from __future__ import annotations

import logging
import re

TICKET = "[ticket]"
PHONE = "[phone]"
DATE = "[date]"

_DASHES = r"\-‐‑–—―−－ｰー"
_SEP = rf"[{_DASHES}\s()（）]"

# Request paths: keep the path, drop everything from "?" (up to the end of the URL).
_QUERY = re.compile(r"((?:https?://[^\s/?#\"']+)?/[^\s?#\"']*)\?[^\s#\"']*")

# E.164 numbers (+81 …, and any other country), with or without separators.
_INTERNATIONAL = re.compile(rf"\+\d{{1,3}}(?:{_SEP}?\d){{6,14}}(?!\d)")
# Japanese numbers: a leading 0, then ten or eleven digits in all (checked in _phone), run
# together or in three groups split by hyphens, spaces or brackets: 09012345678,
# 090-1234-5678, 03(1234)5678, 0120 123 456.
_DOMESTIC = re.compile(rf"(?<!\d)0(?:\d{{9,10}}|\d{{1,4}}(?:{_SEP}{{1,2}}\d{{1,4}}){{2}})(?!\d)")

# Dates: 1950-04-01, 1950/4/1, 1950.4.1, 1950年4月1日, 19500401 and 和暦 with the era written
# out or as a letter: 昭和25年4月1日, 昭25.4.1, S25.4.1, S250401, 令和元年5月1日.
_WESTERN_DATE = re.compile(
    rf"(?<!\d)(?:1[89]|20)\d{{2}}\s*(?:[{_DASHES}/.]|年)\s*\d{{1,2}}\s*(?:[{_DASHES}/.]|月)"
    r"\s*\d{1,2}(?:\s*日)?(?!\d)"
)
_COMPACT_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")
_ERA = r"(?:明治|大正|昭和|平成|令和|明|大|昭|平|令|(?<![A-Za-z])[MTSHRmtshr])"
_ERA_DATE = re.compile(
    rf"{_ERA}\s*(?:元|\d{{1,2}})\s*(?:[{_DASHES}/.]|年)\s*\d{{1,2}}\s*(?:[{_DASHES}/.]|月)"
    r"\s*\d{1,2}(?:\s*日)?(?!\d)"
)
_ERA_COMPACT_DATE = re.compile(r"(?<![A-Za-z])[MTSHRmtshr]\d{6}(?!\d)")

# 接種券番号: ten digits, alone.
_TICKET = re.compile(r"(?<!\d)\d{10}(?!\d)")


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return PHONE if 10 <= digits <= 11 else match.group()


# Residents type full-width digits (０９０…); the patterns read ASCII ones.
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def redact(text: str) -> str:
    """`text` with request queries, dates, phone numbers and ticket numbers hidden (and any
    full-width digits written as ASCII ones)."""
    text = _QUERY.sub(r"\1", text.translate(_FULL_WIDTH_DIGITS))
    # Dates first: 1950-04-01 must not be read as the start of a phone number.
    for pattern in (_WESTERN_DATE, _ERA_DATE, _COMPACT_DATE, _ERA_COMPACT_DATE):
        text = pattern.sub(DATE, text)
    text = _INTERNATIONAL.sub(PHONE, text)
    # A ten-digit run starting with 0 is both a landline and a ticket number; either way hidden.
    text = _DOMESTIC.sub(_phone, text)
    return _TICKET.sub(TICKET, text)


class RedactPersonalData(logging.Filter):
    """Rewrite each record's message (and traceback) with `redact`; never drop a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A call with mismatched arguments: logging would report it; report it redacted.
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            # Exception messages carry values too (a database error quoting a row); format
            # the traceback now, where it can be redacted, instead of in the formatter.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
