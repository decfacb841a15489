"""Celery tasks of the notify channel: each takes ids and calls one service.

`deliver_message_task` is idempotent through the message's state machine, so it acks late and
is requeued if its worker dies: a redelivered task finds the message sent (nothing to do) or
`sending`/`unknown` (asks the provider before sending again).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import defaultdict

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.notify.broadcasts import broadcast_messages_create
from channels.notify.delivery import message_deliver, messages_deliver, messages_sweep
from channels.notify.followups import (
    followup_messages_for,
    followup_photo_results_due,
    followups_due_chunks,
)
from channels.notify.models import Broadcast
from channels.notify.outbox import (
    deliverable_ids,
    messages_create_for_event,
    messages_create_for_events,
    messages_mark_enqueued,
)
from channels.notify.relay import events_relay_drain
from reservations.services.reminders import reminders_record_due

logger = logging.getLogger(__name__)


def enqueue_deliveries(message_ids: list[int]) -> None:
    """Send these messages from the workers once the current transaction has committed."""
    if not message_ids:
        return
    messages_mark_enqueued(message_ids=message_ids)
    # In batches (deliver_messages_task, at the end of this module): a task per message cost
    # the workers more than the message itself.
    for start in range(0, len(message_ids), MESSAGES_PER_TASK):
        batch = message_ids[start : start + MESSAGES_PER_TASK]
        transaction.on_commit(
            lambda batch=batch: deliver_messages_task.delay(batch),  # type: ignore[misc]
            robust=True,
        )


@shared_task(ignore_result=True)
def notify_event_task(event_id: int) -> None:
    """One committed event: create its message(s) and send them. Nothing sends this any
    more (the relay hands events over in batches, notify_events_task); kept so that tasks
    queued before an upgrade are still run."""
    enqueue_deliveries(deliverable_ids(messages_create_for_event(event_id=event_id)))


# Events per task handed over by the relay (channels/notify/relay.py): one task per event
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


# Events the sweep's relay pass hands over at most per run.
SWEEP_RELAY_EVENTS = 5000


@shared_task(ignore_result=True)
def sweep_task() -> None:
    """Every minute (beat): handed-over events whose task was lost, deferred messages,
    attempts cut short by a crash; then a relay pass (events no relay process handed over:
    the safety net when none runs). The message sweep goes first so that it never makes the
    messages of events this pass has just handed to a task that has not run yet."""
    report = messages_sweep()
    for message_id in report.to_deliver:
        deliver_message_task.delay(message_id)
    # As many events as the message sweep looks at in one go.
    events_relay_drain(
        batch=settings.NOTIFY_RELAY_BATCH,
        max_batches=max(1, SWEEP_RELAY_EVENTS // settings.NOTIFY_RELAY_BATCH),
    )


@shared_task(ignore_result=True)
def reminder_scan_task() -> None:
    """Every few minutes (beat): record tomorrow's reminders once the reminder time has come.
    Their events reach the workers like a booking's (channels.notify.relay), in batches of
    EVENTS_PER_TASK."""
    reminders_record_due(remind_at=settings.NOTIFY_REMINDER_TIME)


@shared_task(ignore_result=True)
def followup_due_task() -> None:
    """Every few minutes (beat): health follow-up's invitations, reminders, call list and
    photo verdicts due now (channels.notify.followups), sent like any other message. The due
    follow-ups go to the workers in chunks, so they all make messages at once (a morning of
    10,000 invitations), each chunk's sends starting as soon as it is committed."""
    now = timezone.now()
    _ended, chunks = followups_due_chunks(now=now)
    for chunk in chunks:
        followup_due_chunk_task.delay(chunk, now.isoformat())
    followup_photo_results_due(now=now, hand_over=enqueue_deliveries)


@shared_task(ignore_result=True)
def followup_due_chunk_task(followup_ids: list[int], now_iso: str) -> None:
    """One chunk of the scan, at the scan's time. Run twice (a redelivery, two scans
    overlapping), it makes nothing twice: the outbox keeps one message per follow-up, day and
    purpose, and the day's marks are written with them."""
    followup_messages_for(
        followup_ids=followup_ids,
        now=dt.datetime.fromisoformat(now_iso),
        hand_over=enqueue_deliveries,
    )


@shared_task(ignore_result=True)
def broadcast_send_task(broadcast_id: int) -> None:
    """Create and send a broadcast's messages; run again to resume after a crash."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status == Broadcast.Status.DRAFT:
        return
    enqueue_deliveries(broadcast_messages_create(broadcast=broadcast))


# --- Messages in batches ---------------------------------------------------------------------

# Messages per delivery task (enqueue_deliveries). The task's fixed cost (the broker's delivery
# and ack, the read of the messages) is shared by the batch; small enough that the workers
# share a burst of confirmations.
MESSAGES_PER_TASK = 20

# A batch sends nothing more after this long and hands the rest over again (claims it has not
# used are given back), so it ends within BATCH_SECONDS plus one attempt
# (NOTIFY_ATTEMPT_MAX_SECONDS): inside CELERY_TASK_SOFT_TIME_LIMIT however slowly the provider
# answers.
BATCH_SECONDS = 30.0


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_messages_task(self: Task, message_ids: list[int]) -> None:  # type: ignore[type-arg]
    """`deliver_message_task` for a batch, idempotent the same way: every message goes
    through its state machine, so a batch redelivered after its worker died sends nothing
    twice (a sent message is left alone; one left `sending` goes to the sweep once stale,
    which asks the provider first). Messages to try again later go back to the broker
    together, one task per second of delay."""
    results = messages_deliver(message_ids=message_ids, deadline=time.monotonic() + BATCH_SECONDS)
    later: dict[int, list[int]] = defaultdict(list)
    for message_id, result in results.items():
        if result.retry_in is not None:
            later[math.ceil(result.retry_in)].append(message_id)
    if later and self.request.is_eager:
        # In-process mode has no broker to wait in; the sweep (or the next run) retries.
        logger.warning("messages %s: retry later", sorted(sum(later.values(), [])))
        return
    for countdown, retry_ids in sorted(later.items()):
        messages_mark_enqueued(message_ids=retry_ids)
        deliver_messages_task.apply_async((retry_ids,), countdown=countdown)
