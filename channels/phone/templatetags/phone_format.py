"""Show stored E.164 numbers the way Japanese operators read them aloud: 090-1234-5678."""

from __future__ import annotations

import phonenumbers
from django import template

register = template.Library()


@register.filter
def national_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code != 81:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
