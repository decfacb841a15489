"""Names of places and vaccines, and era names, in the reader's language.

Municipalities, sites, vaccines and campaigns are named in Japanese; staff may enter an English
name beside each one (`name_en`, and `what_to_bring_en` for a site). A resident reading in
English sees the English text when it is filled in, else the Japanese one: an untranslated name
is still the right name, the one on the venue's sign. やさしい日本語 readers see the Japanese name
too, for the same reason. Templates use the `localized` filter
(reservations/templatetags/localized.py); texts built in Python (SMS, LINE) call `localized()`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone, translation

from reservations.identifiers import Era

EASY_JAPANESE = "ja-easy"

# Era names as English writes them, by the era's letter (ERAS in reservations.identifiers).
ERA_NAMES_EN = {"M": "Meiji", "T": "Taisho", "S": "Showa", "H": "Heisei", "R": "Reiwa"}
# Their readings, for readers of やさしい日本語 who may not read the kanji.
ERA_READINGS = {"M": "めいじ", "T": "たいしょう", "S": "しょうわ", "H": "へいせい", "R": "れいわ"}


def _language(language: str | None) -> str:
    return (language or translation.get_language() or settings.LANGUAGE_CODE).lower()


def reads_english(language: str | None = None) -> bool:
    """Whether `language` (default: the active language) is English."""
    code = _language(language)
    return code == "en" or code.startswith("en-")


def reads_easy_japanese(language: str | None = None) -> bool:
    return _language(language) == EASY_JAPANESE


def localized(obj: object, field: str = "name", *, language: str | None = None) -> str:
    """`obj.<field>_en` when the reader reads English and it is filled in, else `obj.<field>`.

    Works on models and on plain rows alike (a selector's dataclass with `site_name` and
    `site_name_en`); an object without the English attribute gives the Japanese one."""
    japanese = getattr(obj, field, "")
    if reads_english(language):
        english = str(getattr(obj, f"{field}_en", "") or "").strip()
        if english:
            return english
    return "" if japanese is None else str(japanese)


def era_label(era: Era, *, language: str | None = None) -> str:
    """The era as a choice in a form: 昭和 in Japanese, "Showa (1926–)" in English, 昭和（しょうわ）
    in やさしい日本語."""
    if reads_english(language):
        return f"{ERA_NAMES_EN[era.letter]} ({era.start.year}–)"
    if reads_easy_japanese(language):
        return f"{era.name}（{ERA_READINGS[era.letter]}）"
    return era.name


def html_lang(language: str | None = None) -> str:
    """The language as an HTML `lang` value (BCP 47): やさしい日本語 is Japanese with a private-use
    tag, since "ja-easy" would read as a script subtag."""
    code = _language(language)
    return "ja-x-easy" if code == EASY_JAPANESE else code


def time_range(starts_at: dt.datetime, ends_at: dt.datetime, *, language: str | None = None) -> str:
    """A slot's times as its reader writes them: 10:00〜10:15 in Japanese, 10:00–10:15 (an en
    dash, no spaces) in English, where 〜 reads as a stray symbol."""
    separator = "–" if reads_english(language) else "〜"
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    return f"{start:%H:%M}{separator}{end:%H:%M}"
