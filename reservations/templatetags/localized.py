"""{% load localized %}: names in the reader's language, for every channel's templates.

{{ site|localized }}                      the site's English name in English, else 会場名
{{ site|localized:"what_to_bring" }}      any field with an `_en` twin
{{ day|localized:"site_name" }}           rows from selectors (site_name / site_name_en)
{{ slot|time_range }}                      10:00〜10:15, in English 10:00–10:15
<html lang="{{ LANGUAGE_CODE|html_lang }}">
"""

from __future__ import annotations

from django import template

from reservations import localized as names

register = template.Library()


@register.filter
def localized(obj: object, field: str = "name") -> str:
    if obj is None or obj == "":
        return ""
    return names.localized(obj, field)


@register.filter
def html_lang(language_code: str) -> str:
    return names.html_lang(language_code)


@register.filter
def time_range(slot: object) -> str:
    """Any object with `starts_at` and `ends_at` (a slot)."""
    if slot is None or slot == "":
        return ""
    return names.time_range(slot.starts_at, slot.ends_at)  # type: ignore[attr-defined]
