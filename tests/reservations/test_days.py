"""Cancelling a whole operating day: four eyes in the core, recorded as the office's act."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from reservations.exceptions import PermissionDenied, SecondApproverRequired
from reservations.models import DayCancellation, Reservation, Slot
from reservations.services.booking import reservation_book
from reservations.services.days import (
    operating_day_cancel_approve,
    operating_day_cancel_request,
)
from tests.world import World, staff_with

pytestmark = pytest.mark.django_db
D = dt.date


_staff = staff_with


@pytest.fixture
def series(world: World) -> World:
    """A two-dose primary series, so a cancelled first dose takes its pair with it."""
    return world.primary_series()


def test_the_author_cannot_approve_and_nothing_is_cancelled(world: World, now: dt.datetime) -> None:
    booked = reservation_book(
        ticket=world.resident(), slot=world.slot(D(2026, 11, 10)), requester=world.web, now=now
    )
    author = _staff("author", "cancel_operating_day")
    cancellation = operating_day_cancel_request(
        operating_day=booked.slot.operating_day, user=author
    )

    with pytest.raises(SecondApproverRequired):
        operating_day_cancel_approve(cancellation=cancellation, user=author, now=now)
    with pytest.raises(PermissionDenied):
        operating_day_cancel_approve(cancellation=cancellation, user=_staff("clerk"), now=now)

    booked.refresh_from_db()
    assert booked.status == Reservation.Status.CONFIRMED
    assert not DayCancellation.objects.get().is_approved
    # Asking again is the same request.
    assert operating_day_cancel_request(operating_day=booked.slot.operating_day, user=author) == (
        cancellation
    )


def test_only_permitted_staff_ask(world: World) -> None:
    with pytest.raises(PermissionDenied):
        operating_day_cancel_request(operating_day=world.day(D(2026, 11, 10)), user=_staff("c"))


def test_approval_cancels_the_series_under_the_office_channel_once(
    series: World, now: dt.datetime
) -> None:
    series.slot(D(2026, 12, 1))  # three weeks later: the pair's seat
    first = reservation_book(
        ticket=series.resident(), slot=series.slot(D(2026, 11, 10)), requester=series.web, now=now
    )
    assert first.next_dose is not None
    author = _staff("author", "cancel_operating_day")
    approver = _staff("approver", "cancel_operating_day")
    cancellation = operating_day_cancel_request(operating_day=first.slot.operating_day, user=author)

    approved = operating_day_cancel_approve(
        cancellation=cancellation, user=approver, now=now, notice=7
    )

    assert (approved.approved_by, approved.cancelled_reservations) == (approver, 2)
    first.refresh_from_db()
    second = Reservation.objects.get(pk=first.next_dose_id)
    assert (first.status, first.cancel_reason) == ("cancelled", "by_municipality")
    assert (second.status, second.cancel_reason) == ("cancelled", "series_cancelled")
    event = first.events.get(kind="cancelled")
    assert (event.channel, event.actor, event.actor_user) == ("office", "operator", approver)
    assert event.data["notice"] == 7
    assert all(slot.capacity == slot.booked for slot in Slot.objects.filter(pk=first.slot_id))
    again = operating_day_cancel_approve(cancellation=approved, user=approver, now=now)
    assert again.cancelled_reservations == 2
    assert first.events.filter(kind="cancelled").count() == 1


def test_the_database_refuses_an_author_who_approves(world: World) -> None:
    author = _staff("author")
    cancellation = DayCancellation.objects.create(
        operating_day=world.day(D(2026, 11, 10)), requested_by=author
    )
    cancellation.approved_by = author
    with pytest.raises(IntegrityError), transaction.atomic():
        cancellation.save()
