"""Spreadsheet-safe CSV: the one home of the rules for cells we write and lines we read.

Writing (OWASP "CSV injection"): a spreadsheet runs a cell that starts with `=`, `+`, `-` or
`@` as a formula (`=cmd|'/C calc'!A0` starts a program on the clerk's PC), and a leading tab
or carriage return hides such a start from a naive check. Where a file's layout allows it, a
text cell with such a start is written with a leading `'`, which spreadsheets show as text.
The VRS layouts do not allow it (fixed fields another system reads back, where a `'` would be
part of the doctor's name): those values are refused when they are entered instead
(`formula_start_problem`), and the export refuses any that slipped in earlier.

Reading: NUL and other control characters in an imported file are never data (a broken
export, or a file that is not what it claims to be) and PostgreSQL cannot store NUL at all;
`control_character_problem` finds them so an import can refuse the line by its number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable
from typing import Any

from django.utils.translation import gettext as _

# OWASP's list: the four formula starts, and tab and carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# C0 and C1 controls and DEL, but not tab, LF and CR: those three are CSV's own whitespace and
# line breaks (a quoted address may span lines). The bidirectional overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) make text display in another order than it is stored
# ("Trojan Source"): never part of a name, a number or an address either.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def starts_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_STARTS)


def neutralise(value: str) -> str:
    """The cell as text a spreadsheet will not evaluate: a leading `'` when it starts like a
    formula, otherwise unchanged."""
    return f"'{value}" if starts_like_formula(value) else value


def formula_start_problem(value: str, label: Any) -> str | None:
    """Why a value for a fixed-layout text field (VRS) cannot be accepted, or None.

    For entry forms and services: the sentence names the field and is in the user's language.
    """
    if starts_like_formula(value):
        return _(
            "%(label)sの先頭に「=」「+」「-」「@」やタブは使えません"
            "（表計算ソフトで数式として実行されるおそれがあります）。"
        ) % {"label": label}
    return None


def control_character(text: str) -> str | None:
    """The first control character in `text` (see _CONTROL), or None."""
    found = _CONTROL.search(text)
    return found.group() if found else None


def describe_character(char: str) -> str:
    """U+0000 style, so a message can name an invisible character."""
    return f"U+{ord(char):04X}"


def control_character_problem(cells: Iterable[str], first_line: int) -> tuple[int, str] | None:
    """(physical line, sentence without the line) for the first control character in a
    record's cells, or None.

    `first_line` is the line the record starts on; a quoted cell may span lines, so the line
    is counted on through the line breaks before the character.
    """
    line = first_line
    for cell in cells:
        found = _CONTROL.search(cell)
        if found is not None:
            return line + cell.count("\n", 0, found.start()), control_character_message(
                found.group()
            )
        line += cell.count("\n")
    return None


def control_character_message(char: str) -> str:
    return _(
        "制御文字（%(char)s）があります。元のファイルを確認し、制御文字を除いてから"
        "取り込んでください。"
    ) % {"char": describe_character(char)}


class SafeWriter:
    """csv.writer that neutralises text cells. Numbers are data, not formulas: a negative
    count must stay a number, so cells that are not `str`, and the columns named in
    `numeric_columns`, are written as they are."""

    def __init__(self, stream: Any, *, numeric_columns: Collection[int] = (), **options: Any):
        self._writer = csv.writer(stream, **options)
        self._numeric = frozenset(numeric_columns)

    def _safe(self, row: Iterable[Any]) -> list[Any]:
        return [
            neutralise(cell) if isinstance(cell, str) and i not in self._numeric else cell
            for i, cell in enumerate(row)
        ]

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(self._safe(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
