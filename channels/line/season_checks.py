"""The LINE channel's part of the pre-opening check (reservations.season_check)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_noop

from channels.line.client import real_line_configured
from reservations.season_check import CheckScope, Finding, warning


def check_line(scope: CheckScope) -> Iterable[Finding]:
    # The chat simulator does not count: it answers staff, never a resident.
    if not real_line_configured():
        yield warning(
            "line_not_configured",
            gettext_noop(
                "LINE公式アカウントが設定されていません（LINE_CHANNEL_SECRET と "
                "LINE_CHANNEL_ACCESS_TOKEN）。LINEでの予約と通知は使えず、その分が電話とWebに"
                "回ります。"
            ),
        )
