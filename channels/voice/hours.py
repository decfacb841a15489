"""Calling hours: no automated call before VOICE_CALLING_HOURS_START or after
VOICE_CALLING_HOURS_END, local time, whatever the message (a night call frightens the
elderly people these calls are for more than a late notice helps them)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone


def calling_hours_open(now: dt.datetime) -> bool:
    local = timezone.localtime(now).time()
    return settings.VOICE_CALLING_HOURS_START <= local < settings.VOICE_CALLING_HOURS_END


def next_calling_start(now: dt.datetime) -> dt.datetime:
    """`now` if calls may be placed now, else the next opening of the calling hours."""
    if calling_hours_open(now):
        return now
    local = timezone.localtime(now)
    day = local.date()
    if local.time() >= settings.VOICE_CALLING_HOURS_END:
        day += dt.timedelta(days=1)
    naive = dt.datetime.combine(day, settings.VOICE_CALLING_HOURS_START)
    return timezone.make_aware(naive, timezone.get_current_timezone())
