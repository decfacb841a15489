"""The notification relay: committed events → worker tasks, in batches, so that a booking
commits its event and nothing else.

Every `ReservationEvent` is written with `relay_pending` true, in the booking's own statement
(the outbox flag, reservations/models/booking.py). `events_relay` claims a batch of pending
events, hands the ones residents hear about to the workers as `notify_events_task` batches,
and marks the whole batch relayed, in one transaction. Who calls it depends on
`NOTIFY_HANDOFF`:

- "relay" (production): the `notify_relay` command (one or more processes) polls the outbox
  (`relay_run`); the minute sweep (tasks.sweep_task) runs passes too, as the safety net when
  no relay process is up. The web process does no broker round trip.
- "on_commit" (the embedded default, tasks in-process): the process that wrote the events runs
  the relay for exactly those events after its commit (signals.on_events_recorded), so a
  confirmation goes at once without a relay process.

Nothing is lost: an event stays pending until the transaction that handed it over commits its
mark, so a relay that dies, or a broker that refuses the publish, leaves it for the next pass.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from kombu.exceptions import OperationalError as BrokerError

from channels.notify.outbox import NOTIFIABLE_KINDS
from reservations.models import ReservationEvent

logger = logging.getLogger(__name__)

# The longest wait after a failed pass (database or broker down): failures back off from the
# poll interval up to this, so an outage is retried without a busy loop or a flood of logs.
RETRY_MAX_SECONDS = 10.0


@dataclass(frozen=True)
class RelayPass:
    """What one pass did: events taken off the outbox, of which `handed_over` went to the
    workers in `tasks` tasks (the others make no message and were only marked)."""

    claimed: int = 0
    handed_over: int = 0
    tasks: int = 0


def events_relay(*, batch: int, event_ids: list[int] | None = None) -> RelayPass:
    """One pass: claim up to `batch` pending events (oldest first; only these ids if given),
    hand the notifiable ones to the workers, mark all of them relayed, commit."""
    # Imported here: the tasks module imports this one (the sweep runs relay passes).
    from channels.notify.tasks import EVENTS_PER_TASK, notify_events_task

    with transaction.atomic():
        # FOR UPDATE SKIP LOCKED: several relays (processes, the sweep, an on-commit hand-over)
        # may run at once; each takes rows no other has locked and skips the rest instead of
        # waiting, so no event is handed over by two of them. A row another relay marked and
        # committed meanwhile is re-checked under the lock (relay_pending is false by then)
        # and left out. The lock is held until the mark commits: a few milliseconds, and
        # nothing else ever locks events (they are only inserted, then marked here). The
        # partial index event_relay_pending serves this scan however long the history is.
        # SQLite has no row locks: its IMMEDIATE transactions let one writer in at a time.
        pending = ReservationEvent.objects.filter(relay_pending=True)
        if event_ids is not None:
            pending = pending.filter(pk__in=event_ids)
        claimed = list(
            pending.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "kind")[:batch]
        )
        if not claimed:
            return RelayPass()
        notifiable = [pk for pk, kind in claimed if kind in NOTIFIABLE_KINDS]
        # Published before the mark commits, inside this transaction: if the relay dies (or
        # the commit fails) after a publish, the events are still pending and the next pass
        # publishes them again. That is safe: making messages is idempotent (one per event
        # and channel, outbox.messages_create_for_events) and so is delivery (a message is
        # claimed before it is sent), so the worst case is a second task with nothing to do.
        # The other order (mark, commit, then publish) could lose events for good. A publish
        # that fails raises here and rolls the whole pass back.
        tasks = 0
        for start in range(0, len(notifiable), EVENTS_PER_TASK):
            notify_events_task.delay(notifiable[start : start + EVENTS_PER_TASK])
            tasks += 1
        ReservationEvent.objects.filter(pk__in=[pk for pk, _kind in claimed]).update(
            relay_pending=False
        )
    return RelayPass(claimed=len(claimed), handed_over=len(notifiable), tasks=tasks)


def events_relay_drain(*, batch: int, max_batches: int) -> RelayPass:
    """Passes until the outbox is empty (a pass that was not full) or `max_batches` ran."""
    claimed = handed_over = tasks = 0
    for _number in range(max_batches):
        done = events_relay(batch=batch)
        claimed += done.claimed
        handed_over += done.handed_over
        tasks += done.tasks
        if done.claimed < batch:
            break
    return RelayPass(claimed=claimed, handed_over=handed_over, tasks=tasks)


def relay_run(
    *,
    poll: float,
    batch: int,
    stop: threading.Event,
    on_pass: Callable[[RelayPass], None] | None = None,
) -> None:
    """The relay process's loop, until `stop` is set: a full batch is followed at once by the
    next; an empty or partial one by a wait of `poll` seconds. A failed pass (database or
    broker unreachable) is logged and retried after a growing wait, on a new connection.

    Why a short poll and not PostgreSQL's LISTEN/NOTIFY: a NOTIFY would be one more statement
    per booking, or a trigger on the event insert; either way every notifying commit takes
    PostgreSQL's single notification-queue lock, which serialises the commits of concurrent
    bookings, the opposite of what the relay is for. The poll is one index probe on the
    partial index of pending events (empty when idle), five times a second by default, and
    it adds at most `poll` seconds to a confirmation."""
    failures = 0
    while not stop.is_set():
        try:
            done = events_relay(batch=batch)
        except (DatabaseError, BrokerError) as error:
            failures += 1
            wait = min(RETRY_MAX_SECONDS, poll * 2**failures)
            logger.warning(
                "notify relay: pass failed (%s: %s); retrying in %.1f s on a new connection",
                type(error).__name__,
                error,
                wait,
            )
            _connection_drop()
            stop.wait(wait)
            continue
        if failures:
            logger.info("notify relay: passes succeed again after %d failure(s)", failures)
            failures = 0
        if on_pass is not None:
            on_pass(done)
        if done.claimed < batch:
            stop.wait(poll)
    _connection_drop()


def _connection_drop() -> None:
    """Close this thread's connection; the next query opens a new one."""
    with contextlib.suppress(DatabaseError):  # closing a broken connection may complain
        connection.close()


__all__ = ["RelayPass", "events_relay", "events_relay_drain", "relay_run"]
