"""Writes of the venue that are its own, not the booking core's: the record of who was shown
whose personal data (reservations/audit.py, channel "venue"): the booking list printed or
downloaded, the day's page, the find step, the record page of a booking or a walk-in, the
end-of-day preview and the correction page. Every page that shows a name reports it here,
so "who saw my record" finds the venue's reads as well as the call centre's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest

from channels.venue.selectors import Found, find_for_reception
from reservations import audit
from reservations.models import OperatingDay, Reservation, Resident, Ticket, Vaccination


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


def _page_read(
    page: str,
    residents: Iterable[tuple[Resident, dict[str, Any]]],
    *,
    user: Any,
    operating_day: OperatingDay,
    now: dt.datetime,
    request: HttpRequest | None,
) -> None:
    """One venue page (VENUE_PAGES in channels/phone/audit.py) showed these residents."""
    audit.personal_data_shown(
        user=user,
        channel=audit.VENUE,
        reads=_reads_of(residents),
        detail={
            "page": page,
            "day": operating_day.date.isoformat(),
            "site": operating_day.site.name,
        },
        now=now,
        request=request,
    )


def _reads_of(residents: Iterable[tuple[Resident, dict[str, Any]]]) -> list[audit.ReadOf]:
    """One read per resident, first mention kept (a resident booked and recorded on the same
    day is one read of the page, not two)."""
    reads: dict[int, audit.ReadOf] = {}
    for resident, detail in residents:
        reads.setdefault(
            resident.pk,
            audit.ReadOf(
                resident_id=resident.pk, municipality_id=resident.municipality_id, detail=detail
            ),
        )
    return list(reads.values())


def day_page_read(
    *,
    user: Any,
    operating_day: OperatingDay,
    reservations: Sequence[Reservation],
    records: Sequence[Vaccination],
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> None:
    """The day's page names everyone booked and everyone recorded: a read of each."""
    _page_read(
        "venue_day",
        [(row.resident, {"code": row.code}) for row in reservations]
        + [(record.resident, {}) for record in records],
        user=user,
        operating_day=operating_day,
        now=now,
        request=request,
    )


def reception_find(
    *,
    user: Any,
    operating_day: OperatingDay,
    query: str,
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> Found:
    """The find step (予約番号, OCR line or ticket number): the resident it found is a read,
    recorded with how they were found, before the desk is taken to their page. Raises
    IdentifierError (nothing found, nothing recorded)."""
    found = find_for_reception(day=operating_day, query=query)
    ticket = found.reservation.ticket if found.reservation is not None else found.ticket
    assert ticket is not None
    detail: dict[str, Any] = {"ticket": ticket.pk}
    if found.reservation is not None:
        detail["code"] = found.reservation.code
    _page_read(
        "venue_find",
        [(ticket.resident, detail)],
        user=user,
        operating_day=operating_day,
        now=now,
        request=request,
    )
    return found


def record_page_read(
    *,
    user: Any,
    operating_day: OperatingDay,
    ticket: Ticket,
    reservation: Reservation | None,
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> None:
    """The page of one booking or one walk-in: the resident's name, birth date, ticket and
    history of doses."""
    detail: dict[str, Any] = {"ticket": ticket.pk}
    if reservation is not None:
        detail["code"] = reservation.code
    page = "venue_reservation" if reservation is not None else "venue_walk_in"
    _page_read(
        page,
        [(ticket.resident, detail)],
        user=user,
        operating_day=operating_day,
        now=now,
        request=request,
    )


def close_preview_read(
    *,
    user: Any,
    operating_day: OperatingDay,
    candidates: Sequence[Reservation],
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> None:
    """The end-of-day preview names who would become a no-show."""
    _page_read(
        "venue_close",
        [(row.resident, {"code": row.code}) for row in candidates],
        user=user,
        operating_day=operating_day,
        now=now,
        request=request,
    )


def correction_page_read(
    *,
    user: Any,
    operating_day: OperatingDay,
    versions: Sequence[Vaccination],
    now: dt.datetime,
    request: HttpRequest | None = None,
) -> None:
    """The correction page: the resident of the record and every version of it."""
    _page_read(
        "venue_correction",
        [(v.resident, {"record": str(v.record_id)}) for v in versions[-1:]],
        user=user,
        operating_day=operating_day,
        now=now,
        request=request,
    )
