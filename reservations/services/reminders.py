"""The day-before reminder: the periodic scan records a `reminder_due` event per booking.

Reminders are found by scanning, never scheduled far ahead: a booking changed or cancelled
after the scan simply is not found by the next one, and the notification built from an older
reminder event checks that the booking still stands before anything is sent.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from reservations.models import Actor, Reservation, ReservationEvent
from reservations.services.booking import Requester, event_record


def _reminder_moment(slot_date: dt.date, remind_at: dt.time) -> dt.datetime:
    day_before = slot_date - dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day_before, remind_at))


def reminders_record_due(*, remind_at: dt.time, now: dt.datetime | None = None) -> list[int]:
    """Record a reminder event for each confirmed booking of tomorrow, once the reminder time
    of today has come. Returns the new events' ids. Running it again records nothing new."""
    now = now or timezone.now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    if now < _reminder_moment(tomorrow, remind_at):
        return []
    due = (
        Reservation.objects.filter(
            status=Reservation.Status.CONFIRMED,
            slot__operating_day__date=tomorrow,
            slot__starts_at__gt=now,
        )
        .exclude(
            Exists(
                ReservationEvent.objects.filter(
                    reservation=OuterRef("pk"),
                    kind=ReservationEvent.Kind.REMINDER_DUE,
                    data__date=str(tomorrow),
                )
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    recorded = []
    for reservation_id in list(due):
        with transaction.atomic():
            # Lock the booking so a change or cancel in flight finishes first; the check below
            # then sees its outcome, and two scans cannot both record the reminder.
            reservation = (
                Reservation.objects.select_for_update(of=("self",))
                .select_related("slot__operating_day")
                .get(pk=reservation_id)
            )
            if (
                reservation.status != Reservation.Status.CONFIRMED
                or reservation.slot.operating_day.date != tomorrow
                or reservation.events.filter(
                    kind=ReservationEvent.Kind.REMINDER_DUE, data__date=str(tomorrow)
                ).exists()
            ):
                continue
            event_record(
                reservation,
                ReservationEvent.Kind.REMINDER_DUE,
                Requester(channel=reservation.channel, actor=Actor.SYSTEM),
                slot=reservation.slot_id,
                date=str(tomorrow),
            )
            recorded.append(reservation.events.latest("created_at", "id").pk)
    return recorded
