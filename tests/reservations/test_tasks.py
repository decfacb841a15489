"""Periodic tidying of expired holds: the task calls the service; a real worker runs it."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.test import override_settings

from config.celery import app
from reservations.models import Reservation
from reservations.services.booking import reservation_hold
from reservations.tasks import release_expired_holds_task
from tests.world import World, local_date


def _expired_hold(world: World, now: dt.datetime) -> Reservation:
    """A hold taken at `now` (November 2026), so it has expired on any later real day: the
    task and the worker read the real clock."""
    slot = world.slot(local_date(now) + dt.timedelta(days=3))
    return reservation_hold(ticket=world.resident(), slot=slot, requester=world.web, now=now)


@pytest.mark.django_db
def test_it_releases_expired_holds(world: World, now: dt.datetime) -> None:
    held = _expired_hold(world, now)
    assert release_expired_holds_task() == 1
    held.refresh_from_db()
    assert held.status == Reservation.Status.CANCELLED
    assert release_expired_holds_task() == 0


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_it_runs_in_a_real_worker_over_redis(world: World, now: dt.datetime) -> None:
    from celery.contrib.testing.worker import start_worker

    held = _expired_hold(world, now)
    broker = os.environ["CELERY_BROKER_URL"]
    app.conf.update(task_always_eager=False, broker_url=broker, result_backend=broker)
    # The worker refuses settings only a developer's machine may run (config/checks.py):
    # give it production's kinds of SMS backend and cache, as the worker processes get.
    production_kinds = override_settings(
        SMS_BACKEND="locmem",
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": broker,
            }
        },
    )
    with (
        production_kinds,
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        result = release_expired_holds_task.delay()
        assert result.get(timeout=30) == 1
    held.refresh_from_db()
    assert held.status == Reservation.Status.CANCELLED
