"""Celery tasks of the core: thin interfaces that call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reservations.models import OpeningCheck
from reservations.retention import purge_expired_data
from reservations.services.booking import reservation_release_expired_holds
from reservations.services.openings import openings_check_due


@shared_task
def release_expired_holds_task() -> int:
    """Tidy expired holds once a minute. Bookings release them on their own as well, so a
    stopped beat never blocks a booking; this only keeps the admin's counts fresh."""
    return reservation_release_expired_holds()


@shared_task
def purge_expired_data_task() -> dict[str, int]:
    """Once a day (beat): purge personal data past its retention period; the counts per kind
    are the task's result, which the worker logs."""
    return purge_expired_data(now=timezone.now())


@shared_task
def openings_check_due_task() -> dict[str, int]:
    """Every 15 minutes (beat): run the pre-opening check on each cohort opening due within
    SEASON_CHECK_AHEAD_HOURS (and each held shut), recording the verdict the booking path
    enforces. The result counts the runs and the openings held shut, for the worker's log."""
    checks = openings_check_due(now=timezone.now(), trigger=OpeningCheck.Trigger.SCHEDULE)
    return {"checked": len(checks), "blocked": sum(check.blocked for check in checks)}
