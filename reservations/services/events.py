"""The event trail. Every change to a reservation writes one `ReservationEvent` in the same
transaction (DESIGN §2, invariant 5): it is the audit trail and the notification outbox. This
module owns making an event, writing it, and announcing it with `events_recorded` — the one
doorbell the outbox listens to, whichever path wrote the row (`event_record` here, the booking
statement that writes seat, reservation and event at once, the reminder scan's bulk insert)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reservations.models import Reservation, ReservationEvent
from reservations.services.booking_sql import event_insert
from reservations.services.requester import Requester
from reservations.signals import events_recorded


def event_new(
    reservation: Reservation, kind: str, requester: Requester, **data: Any
) -> ReservationEvent:
    """An unsaved event of this reservation, by this requester."""
    return ReservationEvent(
        reservation=reservation,
        kind=kind,
        channel=requester.channel,
        actor=requester.actor,
        actor_user=requester.staff_user,
        data=data,
    )


def events_announce(events: Sequence[ReservationEvent]) -> None:
    """Tell the receivers of `events_recorded` about rows just written in this transaction."""
    if events:
        events_recorded.send(sender=ReservationEvent, events=list(events))


def event_record(
    reservation: Reservation, kind: str, requester: Requester, **data: Any
) -> ReservationEvent:
    """Write one event of this reservation and announce it."""
    event = event_new(reservation, kind, requester, **data)
    event_insert(event)
    events_announce([event])
    return event
