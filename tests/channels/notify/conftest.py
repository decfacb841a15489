from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reservations.models import Reservation, ReservationEvent, Ticket
from reservations.services.booking import reservation_book
from tests.channels.sms.conftest import gateway, http_sms, locmem_sms  # noqa: F401
from tests.world import World, jst

SLOT_DAY = dt.date(2026, 11, 10)


def book(
    world: World, ticket: Ticket, now: dt.datetime, *, hour: int = 10, day: dt.date = SLOT_DAY
) -> Reservation:
    return reservation_book(
        ticket=ticket,
        slot=world.slot(day, hour),
        requester=world.web,
        book_next_dose=False,
        now=now,
    )


def last_event(reservation: Reservation, kind: str) -> ReservationEvent:
    return reservation.events.filter(kind=kind).latest("id")


@pytest.fixture
def daytime() -> dt.datetime:
    """Outside the quiet hours (21:00–08:00 JST)."""
    return jst(2026, 11, 2, 12, 0)


@pytest.fixture
def booked(world: World, now: dt.datetime) -> Reservation:
    world.municipality.sms_sender_label = "日南市ワクチン予約"
    world.municipality.save()
    return book(world, world.resident(), now)


@pytest.fixture
def no_rate_limit(settings: Any) -> None:
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
