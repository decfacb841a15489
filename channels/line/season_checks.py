"""The LINE channel's part of the pre-opening check (reservations.season_check)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext_noop

from channels.line.client import real_line_configured
from channels.line.models import LineOfficialAccount
from reservations.season_check import CheckScope, Finding, warning


def check_line(scope: CheckScope) -> Iterable[Finding]:
    """The municipality's own official account, or for HOME_MUNICIPALITY_CODE the one in
    settings. The chat simulator does not count: it answers staff, never a resident."""
    if LineOfficialAccount.objects.filter(municipality=scope.municipality, is_active=True).exists():
        return
    if scope.municipality.code != settings.HOME_MUNICIPALITY_CODE:
        yield warning(
            "line_not_configured",
            gettext_noop(
                "この自治体のLINE公式アカウントが登録されていません（管理画面の「LINE公式"
                "アカウント」）。LINEでの予約と通知は使えず、その分が電話とWebに回ります。"
            ),
        )
        return
    if not real_line_configured():
        yield warning(
            "line_not_configured",
            gettext_noop(
                "LINE公式アカウントが設定されていません（LINE_CHANNEL_SECRET と "
                "LINE_CHANNEL_ACCESS_TOKEN）。LINEでの予約と通知は使えず、その分が電話とWebに"
                "回ります。"
            ),
        )
