"""Celery tasks of the core: thin interfaces that call a service."""

from __future__ import annotations

from celery import shared_task

from reservations.services.booking import reservation_release_expired_holds


@shared_task
def release_expired_holds_task() -> int:
    """Tidy expired holds once a minute. Bookings release them on their own as well, so a
    stopped beat never blocks a booking; this only keeps the admin's counts fresh."""
    return reservation_release_expired_holds()
