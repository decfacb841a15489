"""Writes of the venue that are its own, not the booking core's: the record of who read a
day's booking list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from channels.phone.models import RecordAccess
from channels.phone.services import audit_context
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
    each (the call centre's trail, RecordAccess), so "who saw my record" finds the list too.

    `how` is "print" or "csv".
    """
    detail = {
        "list": "venue_day",
        "how": how,
        "day": operating_day.date.isoformat(),
        "site": operating_day.site.name,
    }
    # Role, channel and address are the same for every row of one list: read them once.
    context = audit_context(user=user, request=request, channel=RecordAccess.Channel.VENUE)
    RecordAccess.objects.bulk_create(
        RecordAccess(
            user=user,
            resident_id=row.resident_id,
            municipality_id=row.resident.municipality_id,
            action=RecordAccess.Action.VIEWED,
            call=None,
            detail={**detail, "code": row.code},
            at=now,
            **context,
        )
        for row in rows
    )
