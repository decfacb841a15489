"""Cancelling a whole operating day (typhoon, outbreak, no doctor): every booking on it ends.

Four eyes: one member of staff asks for it (`operating_day_cancel_request`), a second one
approves it (`operating_day_cancel_approve`), recorded under the office channel with the
approver as the actor. The cancellation itself (`operating_day_cancel`) is one transaction:
the day's slots are closed to new bookings, every active booking (and the later doses paired
with it) is cancelled with reason `by_municipality`, and each cancellation writes its event,
from which the notifications follow (`channels/notify` tells the residents).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from reservations.exceptions import PermissionDenied, SecondApproverRequired
from reservations.models import Actor, Channel, DayCancellation, OperatingDay, Reservation, Slot
from reservations.selectors import reservation_series
from reservations.services.requester import Requester
from reservations.services.seats import reservation_end
from reservations.services.slots import slot_set_capacity


def operating_day_cancel(
    *,
    operating_day: OperatingDay,
    requester: Requester,
    now: dt.datetime | None = None,
    **event_data: Any,
) -> list[int]:
    """Cancel every active booking on the day and close its slots. Returns the ids of the
    cancelled reservations (paired later doses included). Running it again cancels nothing."""
    if not requester.has_perm("reservations.cancel_operating_day"):
        raise PermissionDenied()
    now = now or timezone.now()
    cancelled: list[int] = []
    with transaction.atomic():
        slots = list(Slot.objects.filter(operating_day=operating_day).order_by("pk"))
        # Close the slots first (capacity = seats taken), so no booking slips in while the
        # day's bookings are being cancelled; the capacity update is race-free on its own.
        for slot in slots:
            slot.refresh_from_db(fields=["booked"])
            slot_set_capacity(slot=slot, capacity=slot.booked, phone_reserved=0)
        active = Reservation.objects.filter(
            slot__in=slots, status__in=Reservation.ACTIVE_STATUSES
        ).order_by("pk")
        for reservation_id in active.values_list("pk", flat=True):
            # Lock each booking as reservation_cancel does: a concurrent change or cancel by
            # the resident waits and then sees it cancelled, so seats are given back once.
            first = Reservation.objects.select_for_update().get(pk=reservation_id)
            for index, member in enumerate(reservation_series(first, for_update=True)):
                if not member.is_active:
                    continue
                reservation_end(
                    member,
                    reason=(
                        Reservation.CancelReason.BY_MUNICIPALITY
                        if index == 0
                        else Reservation.CancelReason.SERIES_CANCELLED
                    ),
                    requester=requester,
                    now=now,
                    operating_day=operating_day.pk,
                    **event_data,
                )
                cancelled.append(member.pk)
        # Seats used by vaccinated or no-show bookings stay counted; nothing else may book.
        for slot in slots:
            slot.refresh_from_db(fields=["booked"])
            slot_set_capacity(slot=slot, capacity=slot.booked, phone_reserved=0)
    return cancelled


def operating_day_cancel_request(*, operating_day: OperatingDay, user: Any) -> DayCancellation:
    """Ask for the day to be cancelled; nothing happens until a second person approves. Asking
    again returns the request already made."""
    if not user.has_perm("reservations.cancel_operating_day"):
        raise PermissionDenied()
    # get_or_create on the unique operating day: two requests at once make one row.
    cancellation, _created = DayCancellation.objects.get_or_create(
        operating_day=operating_day, defaults={"requested_by": user}
    )
    return cancellation


def operating_day_cancel_approve(
    *,
    cancellation: DayCancellation,
    user: Any,
    now: dt.datetime | None = None,
    **event_data: Any,
) -> DayCancellation:
    """A second member of staff approves: the day is cancelled (`operating_day_cancel`) and
    its events carry `event_data` (e.g. the notice that tells the residents). Approving again,
    or twice at once, changes nothing."""
    if not user.has_perm("reservations.cancel_operating_day"):
        raise PermissionDenied()
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the request: two approvals at once must cancel the day once.
        current = DayCancellation.objects.select_for_update().get(pk=cancellation.pk)
        if current.is_approved:
            return current
        if current.requested_by_id == user.pk:
            raise SecondApproverRequired()
        cancelled = operating_day_cancel(
            operating_day=current.operating_day,
            requester=Requester(channel=Channel.OFFICE, actor=Actor.OPERATOR, user=user),
            now=now,
            **event_data,
        )
        current.approved_by = user
        current.approved_at = now
        current.cancelled_reservations = len(cancelled)
        current.save(update_fields=["approved_by", "approved_at", "cancelled_reservations"])
    return current
