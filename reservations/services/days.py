"""Cancelling a whole operating day (typhoon, outbreak, no doctor): every booking on it ends.

The municipality's cancellation is one transaction: the day's slots are closed to new bookings,
every active booking (and the later doses paired with it) is cancelled with reason
`by_municipality`, and each cancellation writes its event, from which notifications follow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from reservations.exceptions import PermissionDenied
from reservations.models import OperatingDay, Reservation, Slot
from reservations.services.booking import Requester, reservation_end
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
            series = [first]
            while series[-1].next_dose_id is not None:
                series.append(
                    Reservation.objects.select_for_update().get(pk=series[-1].next_dose_id)
                )
            for index, member in enumerate(series):
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
