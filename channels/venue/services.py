"""Writes of the venue that are its own, not the booking core's: the record of who read a
day's booking list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from reservations import audit
from reservations.models import OperatingDay, Reservation


def day_list_read(
    *,
    user: Any,
    operating_day: OperatingDay,
    rows: Sequence[Reservation],
    how: str,
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> None:
    """A printed or downloaded booking list is a read of every resident on it: one audit row
    each (reservations/audit.py), so "who saw my record" finds the list too.

    `how` is "print" or "csv".
    """
    audit.personal_data_shown(
        user=user,
        channel=audit.VENUE,
        reads=(
            audit.ReadOf(
                resident_id=row.resident_id,
                municipality_id=row.resident.municipality_id,
                detail={"code": row.code},
            )
            for row in rows
        ),
        detail={
            "list": "venue_day",
            "how": how,
            "day": operating_day.date.isoformat(),
            "site": operating_day.site.name,
        },
        now=now,
        request=request,
    )
