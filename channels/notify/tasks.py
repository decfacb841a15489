"""Celery tasks of the notify channel: each takes ids and calls one service.

`deliver_message_task` is idempotent through the message's state machine, so it acks late and
is requeued if its worker dies: a redelivered task finds the message sent (nothing to do) or
`sending`/`unknown` (asks the provider before sending again).
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from channels.notify.broadcasts import broadcast_messages_create
from channels.notify.delivery import message_deliver, messages_sweep
from channels.notify.models import Broadcast
from channels.notify.outbox import (
    deliverable_ids,
    messages_create_for_event,
    messages_create_for_events,
    messages_mark_enqueued,
)
from reservations.services.reminders import reminders_record_due

logger = logging.getLogger(__name__)


def enqueue_deliveries(message_ids: list[int]) -> None:
    """Send these messages from the workers once the current transaction has committed."""
    if not message_ids:
        return
    messages_mark_enqueued(message_ids=message_ids)
    for message_id in message_ids:
        transaction.on_commit(
            lambda message_id=message_id: deliver_message_task.delay(message_id),  # type: ignore[misc]
            robust=True,
        )


@shared_task(ignore_result=True)
def notify_event_task(event_id: int) -> None:
    """After an event commits: create its message(s) and send them."""
    enqueue_deliveries(deliverable_ids(messages_create_for_event(event_id=event_id)))


# Events per task when many are recorded at once (the reminder scan): one task per event
# would spend more on the broker round trips than on making the messages.
EVENTS_PER_TASK = 200


@shared_task(ignore_result=True)
def notify_events_task(event_ids: list[int]) -> None:
    """A batch of committed events: their messages made in one task, then each one sent. A
    worker lost half-way loses nothing: making a message is idempotent and the sweep finds
    events still without one."""
    enqueue_deliveries(deliverable_ids(messages_create_for_events(event_ids=event_ids)))


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # attempts are counted on the message (SMS_MAX_ATTEMPTS)
    ignore_result=True,
)
def deliver_message_task(self: Task, message_id: int) -> str:  # type: ignore[type-arg]
    result = message_deliver(message_id=message_id)
    if result.retry_in is not None:
        if self.request.is_eager:
            # In-process mode has no broker to wait in; the sweep (or the next run) retries.
            logger.warning("message %s: %s, retry later", message_id, result.status)
            return result.status
        messages_mark_enqueued(message_ids=[message_id])
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(ignore_result=True)
def sweep_task() -> None:
    """Every minute (beat): missed events, deferred messages, attempts cut short by a crash."""
    report = messages_sweep()
    for message_id in report.to_deliver:
        deliver_message_task.delay(message_id)


@shared_task(ignore_result=True)
def reminder_scan_task() -> None:
    """Every few minutes (beat): record tomorrow's reminders once the reminder time has come.
    The core announces each committed batch (events_recorded), and signals.on_events_recorded
    hands it to notify_events_task."""
    reminders_record_due(remind_at=settings.NOTIFY_REMINDER_TIME)


@shared_task(ignore_result=True)
def broadcast_send_task(broadcast_id: int) -> None:
    """Create and send a broadcast's messages; run again to resume after a crash."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status == Broadcast.Status.DRAFT:
        return
    enqueue_deliveries(broadcast_messages_create(broadcast=broadcast))
