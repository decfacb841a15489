"""The embedded default (no broker, no relay process): confirmations are still sent,
in-process, after commit (NOTIFY_HANDOFF=on_commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from channels.notify.models import OutboundMessage
from config.celery import app
from reservations.models import ReservationEvent
from tests.channels.notify.conftest import book
from tests.world import World


@pytest.fixture
def in_process_tasks(settings: Any) -> Iterator[None]:
    """The embedded default's settings, also in the pass that has a broker."""
    settings.NOTIFY_HANDOFF = "on_commit"
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.mark.django_db(transaction=True)
def test_booking_sends_its_confirmation_in_process(
    world: World, now: dt.datetime, locmem_sms: list[Any], in_process_tasks: None
) -> None:
    reservation = book(world, world.resident(), now)
    [sms] = locmem_sms
    assert reservation.code in sms.body
    message = OutboundMessage.objects.get()
    assert message.status == OutboundMessage.Status.SENT
    assert str(message.retry_key) == sms.reference
    # Handed over by this process: nothing is left for a relay or the sweep.
    assert not ReservationEvent.objects.filter(relay_pending=True).exists()


@pytest.mark.django_db(transaction=True)
def test_rolled_back_booking_sends_nothing(
    world: World, now: dt.datetime, locmem_sms: list[Any], in_process_tasks: None
) -> None:
    from django.db import transaction

    ticket = world.resident()
    with pytest.raises(RuntimeError), transaction.atomic():
        book(world, ticket, now)
        raise RuntimeError("the request failed after booking")
    assert locmem_sms == [] and OutboundMessage.objects.count() == 0
    assert not ReservationEvent.objects.exists()
