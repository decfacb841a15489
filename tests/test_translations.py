r"""The English catalogues: complete, compiled, and actually used by the booking errors.

Japanese is the source language (msgids are Japanese); English comes from each app's
<app>/locale/en/LC_MESSAGES/django.po, compiled to django.mo. After changing translatable text:

    bin/messages <app>        (e.g. bin/messages channels/web; no argument: every app)
    (fill in every new msgstr, remove "#, fuzzy", run it again to compile)
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from reservations.exceptions import CredentialsInvalid, NotEligible, SlotFull

BASE_DIR = Path(settings.BASE_DIR)
PO_FILES = sorted(
    path
    for path in BASE_DIR.glob("**/locale/en/LC_MESSAGES/django.po")
    if ".venv" not in path.relative_to(BASE_DIR).parts
)
CORE_PO_FILE = BASE_DIR / "reservations" / "locale" / "en" / "LC_MESSAGES" / "django.po"
each_catalogue = pytest.mark.parametrize(
    "po_file", PO_FILES, ids=[str(path.relative_to(BASE_DIR)) for path in PO_FILES]
)

# A fresh checkout writes django.mo and django.po moments apart, in either order.
CHECKOUT_SLACK_SECONDS = 2.0

KANA = re.compile("[\u3040-\u30ff\uff66-\uff9f]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstrs: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == ""


def parse_po(path: Path) -> list[Entry]:
    """Just enough of the PO format for these checks: flags, msgid(_plural), msgstr[n].

    Obsolete entries (``#~``) and ``msgctxt`` are not used by this project and are skipped.
    """
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None  # ("msgid" | "msgid_plural" | "msgstr", index)
    pending_flags: set[str] = set()

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#,"):
            finish()
            pending_flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            target = None
        elif line.startswith("#") or not line:
            target = None
        elif line.startswith("msgid_plural "):
            assert current is not None, f"{path}:{number}: msgid_plural without msgid"
            current.msgid_plural = ast.literal_eval(line[len("msgid_plural ") :])
            target = ("msgid_plural", 0)
        elif line.startswith("msgid "):
            finish()
            current = Entry(msgid=ast.literal_eval(line[len("msgid ") :]), line=number)
            current.flags, pending_flags = pending_flags, set()
            target = ("msgid", 0)
        elif line.startswith("msgstr"):
            assert current is not None, f"{path}:{number}: msgstr without msgid"
            match = re.match(r"msgstr(?:\[(\d+)\])?\s+(\".*\")$", line)
            assert match, f"{path}:{number}: cannot parse {line!r}"
            index = int(match.group(1) or 0)
            current.msgstrs[index] = ast.literal_eval(match.group(2))
            target = ("msgstr", index)
        elif line.startswith('"'):
            assert current is not None and target is not None, f"{path}:{number}: stray string"
            text = ast.literal_eval(line)
            kind, index = target
            if kind == "msgid":
                current.msgid += text
            elif kind == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + text
            else:
                current.msgstrs[index] += text
    finish()
    return entries


def messages(po_file: Path) -> list[Entry]:
    return [entry for entry in parse_po(po_file) if not entry.is_header]


def has_kana(text: str) -> bool:
    return KANA.search(text) is not None


def looks_english(text: str) -> bool:
    return not has_kana(text) and re.search(r"[A-Za-z]{3,}", text) is not None


# --- the .po file --------------------------------------------------------------------------


def test_it_finds_the_core_catalogue() -> None:
    assert CORE_PO_FILE in PO_FILES
    assert len(messages(CORE_PO_FILE)) > 100


@each_catalogue
def test_it_parses_the_catalogue(po_file: Path) -> None:
    entries = parse_po(po_file)
    assert entries[0].is_header
    assert "Language: en" in entries[0].msgstrs[0]


@each_catalogue
def test_it_has_no_empty_msgstr(po_file: Path) -> None:
    empty = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in messages(po_file)
        if not entry.msgstrs or any(not text for text in entry.msgstrs.values())
    ]
    assert not empty, "untranslated entries in django.po:\n" + "\n".join(empty)


@each_catalogue
def test_it_has_no_fuzzy_entry(po_file: Path) -> None:
    fuzzy = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in parse_po(po_file)
        if "fuzzy" in entry.flags
    ]
    assert not fuzzy, "fuzzy entries in django.po (check, then remove the flag):\n" + "\n".join(
        fuzzy
    )


@each_catalogue
def test_it_keeps_every_placeholder(po_file: Path) -> None:
    wrong = []
    for entry in messages(po_file):
        expected = sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in entry.msgstrs.values():
            if sorted(PLACEHOLDER.findall(text)) != expected:
                wrong.append(f"line {entry.line}: {entry.msgid!r} -> {text!r}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


# Japanese data that must stay Japanese inside an English sentence (the value really is
# written that way): a sample SMS sender name and the maker name VRS expects.
KANA_ALLOWED = {"例: 日南市ワクチン予約", "VRS出力のワクチンメーカー欄（例: ファイザー）"}


@each_catalogue
def test_it_writes_every_msgstr_in_english(po_file: Path) -> None:
    # Kanji may remain in examples of accepted input (令和6年4月1日, 「可」, 月,火,…,日), but
    # no kana, and every msgstr that has words has English ones.
    wrong = []
    for entry in messages(po_file):
        for text in entry.msgstrs.values():
            words = PLACEHOLDER.sub("", text)
            no_letters = not re.search(r"[A-Za-z]", words) and bool(re.search(r"\w", words))
            kana = has_kana(text) and entry.msgid not in KANA_ALLOWED
            if no_letters or kana:
                wrong.append(f"line {entry.line}: {entry.msgid!r} -> {text!r}")
    assert not wrong, "msgstr not in English:\n" + "\n".join(wrong)


# --- the compiled .mo file ------------------------------------------------------------------


@each_catalogue
def test_it_compiled_the_mo_no_older_than_the_po(po_file: Path) -> None:
    mo_file = po_file.with_suffix(".mo")
    assert mo_file.exists(), "run: bin/messages"
    po_time = po_file.stat().st_mtime
    mo_time = mo_file.stat().st_mtime
    assert mo_time >= po_time - CHECKOUT_SLACK_SECONDS, (
        f"{po_file} is newer than its django.mo: run bin/messages"
    )


@each_catalogue
def test_it_compiled_the_mo_from_this_po(po_file: Path) -> None:
    # The mtime check cannot see a forgotten compile in a fresh clone (both files get the
    # checkout time), so also compare the contents.
    with po_file.with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    stale = []
    for entry in messages(po_file):
        if entry.msgid_plural is None:
            if catalog.get(entry.msgid) != entry.msgstrs.get(0):
                stale.append(entry.msgid)
        else:
            for index, text in entry.msgstrs.items():
                if catalog.get((entry.msgid, index)) != text:
                    stale.append(f"{entry.msgid}[{index}]")
    assert not stale, "django.mo does not match django.po; run compilemessages:\n" + "\n".join(
        stale
    )


# --- translations in use ----------------------------------------------------------------------


def test_it_translates_credentials_invalid() -> None:
    error = CredentialsInvalid()
    with translation.override("en"):
        english = str(error.message)
    with translation.override("ja"):
        japanese = str(error.message)
    assert looks_english(english), english
    assert "ticket number" in english
    assert japanese == "接種券番号または生年月日が正しくありません。接種券をご確認ください。"


def test_it_translates_slot_full() -> None:
    error = SlotFull()
    with translation.override("en"):
        english = str(error.message)
    with translation.override("ja"):
        japanese = str(error.message)
    assert looks_english(english), english
    assert "fully booked" in english
    assert japanese == "申し訳ありません。この時間は満席になりました。別の時間をお選びください。"


def test_it_translates_the_not_eligible_wrapper_sentence() -> None:
    # The sentence is formatted when the error is made, so make it in each language.
    earliest = dt.date(2026, 12, 1)
    with translation.override("en"):
        english = str(NotEligible("...", rule_code="x", earliest_date=earliest).message)
    with translation.override("ja"):
        japanese = str(NotEligible("...", rule_code="x", earliest_date=earliest).message)
    # The era date (令和8年12月1日) stays in Japanese on purpose; no kana may remain.
    assert looks_english(english), english
    assert english.startswith("... ")
    assert "2026-12-01" in english
    assert "以降" not in english
    assert japanese == "... 2026-12-01（令和8年12月1日）以降であれば予約できます。"
