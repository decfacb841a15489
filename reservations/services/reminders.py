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
from reservations.services.events import events_announce

# Bookings locked and recorded per transaction: short locks, few round trips.
_BATCH = 200


def _reminder_moment(slot_date: dt.date, remind_at: dt.time) -> dt.datetime:
    day_before = slot_date - dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day_before, remind_at))


def reminders_record_due(*, remind_at: dt.time, now: dt.datetime | None = None) -> list[int]:
    """Record a reminder event for each confirmed booking of tomorrow, once the reminder time
    of today has come. Returns the new events' ids; each batch is announced (events_recorded)
    as it is written, in its transaction. Running it again records nothing new."""
    now = now or timezone.now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    if now < _reminder_moment(tomorrow, remind_at):
        return []
    already_reminded = Exists(
        ReservationEvent.objects.filter(
            reservation=OuterRef("pk"),
            kind=ReservationEvent.Kind.REMINDER_DUE,
            data__date=str(tomorrow),
        )
    )
    due = (
        Reservation.objects.filter(
            status=Reservation.Status.CONFIRMED,
            slot__operating_day__date=tomorrow,
            slot__starts_at__gt=now,
        )
        .exclude(already_reminded)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    due_ids = list(due)
    recorded: list[int] = []
    for offset in range(0, len(due_ids), _BATCH):
        with transaction.atomic():
            # Lock the batch's bookings so a change or cancel in flight finishes first and the
            # status and day are checked on the committed rows. Exactly one beat runs the scan
            # (README), so scans do not race each other; a rerun skips recorded reminders.
            rows = list(
                Reservation.objects.select_for_update(of=("self",))
                .filter(
                    pk__in=due_ids[offset : offset + _BATCH],
                    status=Reservation.Status.CONFIRMED,
                    slot__operating_day__date=tomorrow,
                )
                .exclude(already_reminded)
                .order_by("pk")
                .values_list("pk", "slot_id", "channel")
            )
            events = ReservationEvent.objects.bulk_create(
                ReservationEvent(
                    reservation_id=reservation_id,
                    kind=ReservationEvent.Kind.REMINDER_DUE,
                    channel=channel,
                    actor=Actor.SYSTEM,
                    data={"slot": slot_id, "date": str(tomorrow)},
                )
                for reservation_id, slot_id, channel in rows
            )
            events_announce(events)
        recorded += [event.pk for event in events]
    return recorded
