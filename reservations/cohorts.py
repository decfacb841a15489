"""Cohort doors: a municipality opens booking by birth-date band at set times (2021: the oldest
first, then each younger band a week later). The rows are `CohortOpening`s, edited in the admin.

One read, two callers: the booking verbs (`services.booking`, every channel that books for a
resident passes there) refuse a resident whose door is still shut, and `slot_list_available`
shows such a resident no slots. It lives beside the selectors rather than in them because it
keeps its own per-process copy of the rows (below), which the booking path reads on every
booking without a query.

A door also stays shut past its time while the pre-opening check holds it
(`CohortOpening.check_blocked`, set by `services.openings`); the verdict travels with the row,
so other processes follow a block or an override within COHORT_CACHE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from reservations.exceptions import CohortNotOpenYet, OpeningBlocked
from reservations.models import CohortOpening, Resident

# Openings are set a few times a season but read by every booking, so each process keeps a
# municipality's rows for this long (an empty list too: most municipalities have none, and
# they then pay nothing). Saving or deleting a row in the admin clears this process's copy at
# once; other processes see the edit within COHORT_CACHE_SECONDS. The door itself opens on
# time in every process: only an edit of a row can be late, never the clock.
COHORT_CACHE_SECONDS = 30.0
_openings: dict[int, tuple[float, tuple[CohortOpening, ...]]] = {}


def cohort_openings_cache_clear(*args: object, **kwargs: object) -> None:
    _openings.clear()


# Connected here rather than in apps.py so the cache and what clears it stay in one place; every
# process that books imports this module (services.booking, selectors).
post_save.connect(cohort_openings_cache_clear, sender=CohortOpening, dispatch_uid="cohort-save")
post_delete.connect(cohort_openings_cache_clear, sender=CohortOpening, dispatch_uid="cohort-delete")


def _openings_of(municipality_id: int) -> tuple[CohortOpening, ...]:
    cached = _openings.get(municipality_id)
    if cached is not None and time.monotonic() - cached[0] < COHORT_CACHE_SECONDS:
        return cached[1]
    # One query on the foreign key's index; a municipality has a handful of rows.
    rows = tuple(CohortOpening.objects.filter(municipality_id=municipality_id).order_by())
    _openings[municipality_id] = (time.monotonic(), rows)
    return rows


@dataclass(frozen=True)
class CohortDoor:
    """When a person's door opens; `opens_at` None while no row covers their band. `blocked`:
    the pre-opening check keeps it shut even after that time (reservations.season_check)."""

    opens_at: dt.datetime | None
    blocked: bool = False

    def has_come(self, now: dt.datetime) -> bool:
        return self.opens_at is not None and self.opens_at <= now

    def is_open(self, now: dt.datetime) -> bool:
        return self.has_come(now) and not self.blocked


def cohort_door(
    *, municipality_id: int, campaign_id: int, birth_date: dt.date
) -> CohortDoor | None:
    """The door of someone born on `birth_date` for bookings in this campaign, or None when the
    municipality opens this campaign to everyone at once (no rows apply)."""
    rows = _openings_of(municipality_id)
    applying = [row for row in rows if row.campaign_id == campaign_id] or [
        row for row in rows if row.campaign_id is None
    ]
    if not applying:
        return None
    # Bands do not overlap (the admin refuses it); if rows written elsewhere do, the earliest
    # opening wins, so nobody waits for a door that is already open to them.
    covering = [row for row in applying if row.covers(birth_date)]
    if not covering:
        return CohortDoor(opens_at=None)
    first = min(covering, key=lambda row: row.opens_at)
    return CohortDoor(opens_at=first.opens_at, blocked=first.check_blocked)


def cohort_door_is_open(*, resident: Resident, campaign_id: int, now: dt.datetime) -> bool:
    door = cohort_door(
        municipality_id=resident.municipality_id,
        campaign_id=campaign_id,
        birth_date=resident.birth_date,
    )
    return door is None or door.is_open(now)


def cohort_door_check(*, resident: Resident, campaign_id: int, now: dt.datetime) -> None:
    """Raise CohortNotOpenYet (naming when it opens) unless this resident may book now, or
    OpeningBlocked once that time has come while the pre-opening check holds the door shut."""
    door = cohort_door(
        municipality_id=resident.municipality_id,
        campaign_id=campaign_id,
        birth_date=resident.birth_date,
    )
    if door is None or door.is_open(now):
        return
    if not door.has_come(now):
        raise CohortNotOpenYet(opens_at=door.opens_at)
    raise OpeningBlocked()
