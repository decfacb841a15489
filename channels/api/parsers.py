"""The API's JSON parser: DRF's, minus what Python's json module lets through.

Python reads `1e999` as infinity and `NaN` as a number, and gives up on nesting a few hundred
levels deep with a RecursionError rather than a ValueError: each became a 500 further on. JSON
strings with control characters are refused like the same text in a form (see
reservations/middleware.py). Each is a 400 parse_error in the common error shape.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from reservations.middleware import has_control_characters

NOT_JSON = _("リクエストの本文を JSON として読み取れません。")
CONTROL_CHARACTERS = _("使えない文字（制御文字など）が含まれています。")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strings(data: Any) -> Any:
    """Every key and string in a parsed document, walked without recursion."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_float=_finite,
                parse_constant=_no_constant,
            )
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise ParseError(NOT_JSON) from None
        if any(has_control_characters(text) for text in _strings(data)):
            raise ParseError(CONTROL_CHARACTERS)
        return data
