"""Wiring: committed ReservationEvents become messages; a stored SMS receipt is applied."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from channels.sms.models import SmsReceipt
from reservations.models import ReservationEvent


def on_events_recorded(sender: Any, events: list[ReservationEvent], **kwargs: Any) -> None:
    """The core wrote these events (reservations.signals.events_recorded): once they commit,
    hand the ones that make messages to the workers, one task for a single event (a booking)
    and batches of EVENTS_PER_TASK for many (the reminder scan), whose broker round trips would
    otherwise cost more than making the messages."""
    from channels.notify.outbox import NOTIFIABLE_KINDS
    from channels.notify.tasks import EVENTS_PER_TASK, notify_event_task, notify_events_task

    event_ids = [event.pk for event in events if event.kind in NOTIFIABLE_KINDS]
    # After commit only: a rolled-back booking must not be announced. If the process dies
    # before this runs, the sweep finds the events. robust: a broker outage must not turn a
    # committed booking into an error page.
    if len(event_ids) == 1:
        transaction.on_commit(lambda: notify_event_task.delay(event_ids[0]), robust=True)
        return
    for start in range(0, len(event_ids), EVENTS_PER_TASK):
        batch = event_ids[start : start + EVENTS_PER_TASK]
        transaction.on_commit(
            lambda batch=batch: notify_events_task.delay(batch),  # type: ignore[misc]
            robust=True,
        )


def on_receipt_recorded(sender: Any, receipt: SmsReceipt, **kwargs: Any) -> None:
    from channels.notify.delivery import receipt_apply

    receipt_apply(receipt=receipt)
