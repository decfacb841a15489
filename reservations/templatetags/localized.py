"""{% load localized %}: names in the reader's language, for every channel's templates.

{{ site|localized }}                      the site's English name in English, else 会場名
{{ site|localized:"what_to_bring" }}      any field with an `_en` twin
{{ day|localized:"site_name" }}           rows from selectors (site_name / site_name_en)
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
