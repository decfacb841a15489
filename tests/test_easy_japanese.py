r"""The やさしい日本語 (ja-easy) catalogues: complete where residents read, compiled, and in the
guideline's register (です・ます, no 敬語), and the language known to Django.

They live beside the English ones in <app>/locale/ja_Easy/LC_MESSAGES/ (to_locale("ja-easy"));
bin/messages updates them with the English ones. A msgstr left empty shows ordinary Japanese:
allowed for staff texts, not for the resident pages (channels/web) nor the texts residents
receive (channels/notify/texts.py).
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from reservations.exceptions import (
    AlreadyBooked,
    ChangeDeadlinePassed,
    CredentialsInvalid,
    HoldExpired,
    NotEligible,
    ReservationError,
    SlotFull,
    TooManyAttempts,
)
from tests.test_translations import PLACEHOLDER, Entry, parse_po

BASE_DIR = Path(settings.BASE_DIR)
WEB_PO = BASE_DIR / "channels" / "web" / "locale" / "ja_Easy" / "LC_MESSAGES" / "django.po"
NOTIFY_PO = BASE_DIR / "channels" / "notify" / "locale" / "ja_Easy" / "LC_MESSAGES" / "django.po"
CORE_PO = BASE_DIR / "reservations" / "locale" / "ja_Easy" / "LC_MESSAGES" / "django.po"
PO_FILES = [WEB_PO, NOTIFY_PO, CORE_PO]
each_catalogue = pytest.mark.parametrize(
    "po_file", PO_FILES, ids=[str(path.relative_to(BASE_DIR)) for path in PO_FILES]
)

# Honorific and formal wording the guideline replaces with plain です・ます.
KEIGO = re.compile(
    r"ご確認|ご予約|お手数|承り|いただ|くださいませ|でございます|お問い?合わせ|お選び|お電話"
)


def resident_entries(po_file: Path) -> list[Entry]:
    """The messages residents read: all of channels/web, and notify's message texts. Of the
    core's, those written so far (test_it_writes_the_booking_errors_residents_read checks
    which must be)."""
    entries = [entry for entry in parse_po(po_file) if not entry.is_header]
    if po_file == NOTIFY_PO:
        return [entry for entry in entries if entry.msgid.startswith("【%(sender)s】")]
    if po_file == CORE_PO:
        return [entry for entry in entries if any(entry.msgstrs.values())]
    return entries


def test_it_knows_the_language() -> None:
    assert ("ja-easy", "やさしい にほんご") in settings.LANGUAGES
    info = translation.get_language_info("ja-easy")
    assert info["name_local"] == "やさしい にほんご" and info["code"] == "ja-easy"
    # The entry did not replace Japanese's own.
    assert translation.get_language_info("ja")["name_local"] == "日本語"
    assert translation.check_for_language("ja-easy")
    assert translation.to_locale("ja-easy") == "ja_Easy"


@each_catalogue
def test_it_declares_the_language(po_file: Path) -> None:
    header = parse_po(po_file)[0]
    assert "Language: ja_Easy" in header.msgstrs[0]
    assert "nplurals=1; plural=0;" in header.msgstrs[0]
    assert "fuzzy" not in header.flags


@each_catalogue
def test_it_writes_every_resident_text(po_file: Path) -> None:
    entries = resident_entries(po_file)
    assert entries
    empty = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in entries
        if not entry.msgstrs or any(not text for text in entry.msgstrs.values())
    ]
    assert not empty, "write these in やさしい日本語 (bin/messages, then fill):\n" + "\n".join(
        empty
    )
    fuzzy = [f"line {entry.line}: {entry.msgid!r}" for entry in entries if "fuzzy" in entry.flags]
    assert not fuzzy, "check, then remove the fuzzy flag:\n" + "\n".join(fuzzy)


@each_catalogue
def test_it_keeps_every_placeholder(po_file: Path) -> None:
    wrong = []
    for entry in resident_entries(po_file):
        expected = set(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in entry.msgstrs.values():
            if text and set(PLACEHOLDER.findall(text)) != expected:
                wrong.append(f"line {entry.line}: {entry.msgid!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


@each_catalogue
def test_it_uses_plain_polite_japanese(po_file: Path) -> None:
    wrong = [
        f"line {entry.line}: {text!r}"
        for entry in resident_entries(po_file)
        for text in entry.msgstrs.values()
        if KEIGO.search(text)
    ]
    assert not wrong, "use です・ます without 敬語:\n" + "\n".join(wrong)


@each_catalogue
def test_it_compiled_the_mo_from_this_po(po_file: Path) -> None:
    with po_file.with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    stale = []
    for entry in parse_po(po_file):
        if entry.is_header or "fuzzy" in entry.flags:  # not compiled; flagged above
            continue
        if entry.msgid_plural is None:
            if entry.msgstrs.get(0) and catalog.get(entry.msgid) != entry.msgstrs[0]:
                stale.append(entry.msgid)
        elif entry.msgstrs.get(0) and catalog.get((entry.msgid, 0)) != entry.msgstrs[0]:
            stale.append(entry.msgid)
    assert not stale, "run bin/messages to compile:\n" + "\n".join(stale)


def test_it_translates_in_use_and_falls_back_to_japanese() -> None:
    with translation.override("ja-easy"):
        assert translation.gettext("予約を確定する") == "よやくを きめる"
        # Django's own messages come from its Japanese catalogue.
        assert translation.gettext("This field is required.") == "この項目は必須です。"
        # A staff text nobody wrote in easy Japanese is ordinary Japanese, not an empty string.
        assert translation.gettext("電話連絡リスト") == "電話連絡リスト"


def test_it_writes_the_booking_errors_residents_read() -> None:
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    # Made in each language: NotEligible formats its sentence when it is raised.
    errors: list[Callable[[], ReservationError]] = [
        lambda: CredentialsInvalid(),
        lambda: CredentialsInvalid(attempts_left=2, lock_minutes=15),
        lambda: CredentialsInvalid(
            attempts_left=0,
            lock_minutes=15,
            retry_after=now + dt.timedelta(minutes=15),
            call_centre_phone="0987-00-0000",
            now=now,
        ),
        lambda: TooManyAttempts(
            retry_after=now + dt.timedelta(minutes=9), lock_minutes=15, now=now
        ),
        lambda: SlotFull(),
        lambda: AlreadyBooked(existing_code="123456789"),
        lambda: NotEligible("...", rule_code="x", earliest_date=dt.date(2026, 12, 1)),
        lambda: ChangeDeadlinePassed(),
        lambda: HoldExpired(),
    ]
    for make in errors:
        with translation.override("ja"):
            japanese = str(make().message)
        with translation.override("ja-easy"):
            easy = str(make().message)
        assert easy != japanese, japanese
        assert not KEIGO.search(easy), easy
    with translation.override("ja-easy"):
        assert str(SlotFull().message) == (
            "すみません。この じかんは いっぱいに なりました。ほかの じかんを えらんで ください。"
        )
