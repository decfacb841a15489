"""Form fields shared by the staff forms of every app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from reservations.identifiers import IdentifierError, parse_date_loose


class LooseDateField(forms.DateField):
    """A date typed the way Japanese lists write it: whatever
    :func:`reservations.identifiers.parse_date_loose` reads (2024-04-01, 2024/4/1, 令和6年4月1日,
    R6.4.1, 昭和二十二年五月三日 …).

    An ``<input type="date">`` posts ISO, which parses too, so the forms keep their widgets.
    A refusal carries the parser's message, which says what to type instead.
    """

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if not text:
            return None
        try:
            return parse_date_loose(text)
        except IdentifierError as exc:
            # Rendered now, in the language of the request that typed it.
            raise ValidationError(str(exc.message), code=exc.code) from None
