"""Show stored numbers the way Japanese operators read them aloud: 090-1234-5678, 698-428-787."""

from __future__ import annotations

import phonenumbers
from django import template

from reservations.identifiers import IdentifierError, format_reservation_code

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


@register.filter
def reservation_code(code: str) -> str:
    """A 予約番号 in threes (698-428-787), as operators read it out."""
    try:
        return format_reservation_code(code)
    except IdentifierError:
        return code
