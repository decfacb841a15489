"""Sending one message and what follows. `message_deliver` is the delivery state machine: a
message is claimed (queued → sending) by a conditional update on the state it was read in; an
attempt that may have reached the provider (a crash, a timeout, a 500) leaves it `unknown` or
stale `sending`, and the next attempt asks the provider before it sends, so nothing is sent
twice. A message that cannot go is re-routed without LINE or put on the operators' phone list;
SMS receipts move messages forward (`receipt_apply`), the end of an automated call moves its
message on (channels.notify.voice.voice_call_finished), operators work the phone list
(`call_list_mark_done`), and `messages_sweep` finds what the relay's tasks missed (a lost
broker message, a worker killed mid-task or mid-send). Every function here is safe to run
twice or concurrently.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.utils import timezone

from channels.notify.broadcasts import _broadcasts_finish
from channels.notify.followups import (
    followup_message_without_line,
    followup_not_reached,
    followup_stop_reason,
    is_followup_message,
)
from channels.notify.models import OutboundMessage
from channels.notify.outbox import (
    NOTIFIABLE_KINDS,
    messages_create_for_event,
    messages_mark_enqueued,
    send_window_start,
)
from channels.notify.routing import line_address, route_without_line, sms_allowed
from channels.notify.texts import render
from channels.notify.transports import (
    TRANSPORTS,
    Accepted,
    AmbiguousDeliveryError,
    NotAttempted,
    PermanentDeliveryError,
    Throttled,
    TransientDeliveryError,
    Transport,
)
from channels.notify.voice import VOICE_NO_PHONE, VOICE_OFF, voice_phone_now, voice_stop_reason
from channels.sms.models import SmsReceipt
from reservations.models import Reservation, ReservationEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Message = OutboundMessage
Status = OutboundMessage.Status
Purpose = OutboundMessage.Purpose

# --- Delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    """What the task should do next: nothing (`retry_in` None) or try again after a while."""

    status: str
    retry_in: float | None = None


def _backoff(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter (half fixed, half random), or the provider's
    Retry-After when it asked for longer."""
    base = float(settings.SMS_RETRY_BACKOFF_SECONDS)
    ceiling = min(float(settings.SMS_RETRY_BACKOFF_MAX_SECONDS), base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security
    return float(max(delay, retry_after or 0.0))


def _sibling_create(message: OutboundMessage, **fields: object) -> bool:
    # (Booking messages only: a follow-up's go through channels.notify.followups.)
    """A message for the same event on another channel; the (event, channel) constraint keeps
    it to one, whoever gets there first. Returns whether this call made it."""
    try:
        with transaction.atomic():
            OutboundMessage.objects.create(
                event_id=message.event_id,
                reservation_id=message.reservation_id,
                resident_id=message.resident_id,
                broadcast_id=message.broadcast_id,
                purpose=message.purpose,
                language=message.language,
                **fields,
            )
    except IntegrityError:
        return False
    return True


def call_list_add(*, message: OutboundMessage, reason: str) -> bool:
    """Put the resident on the operators' phone list for this booking message's event, once
    (whoever asks first: a failed send, or the resident asking for a call back on an automated
    call). Returns whether this request made the entry."""
    assert message.resident is not None
    return _sibling_create(
        message,
        channel=Message.Channel.CALL_LIST,
        address=message.resident.phone,
        body=message.body,
        call_reason=reason,
    )


def _call_list_fallback(message: OutboundMessage, reason: str) -> None:
    """Put the resident on the operators' phone list for this event (once); the person of a
    follow-up on the health-centre staff's call list for that day."""
    if is_followup_message(message):
        followup_not_reached(message, timezone.now())
        return
    call_list_add(message=message, reason=reason)


def _stop_reason(message: OutboundMessage, now: dt.datetime) -> str | None:
    """Why a not-yet-sent message should not go out any more, if it should not."""
    if is_followup_message(message):
        return _followup_stop_reason(message)
    assert message.reservation is not None and message.event is not None
    assert message.resident is not None
    if message.purpose == Purpose.REMINDER:
        reservation = message.reservation
        reminded_slot = message.event.data.get("slot")
        if (
            reservation.status != Reservation.Status.CONFIRMED
            or reservation.slot_id != reminded_slot
        ):
            return "reminder_stale"
        if reservation.slot.starts_at <= now:
            return "reminder_too_late"
    if message.channel == Message.Channel.SMS and not sms_allowed(message.resident):
        return "sms_not_allowed"
    if message.channel == Message.Channel.VOICE:
        return voice_stop_reason(message)
    return _line_unlinked(message)


def _line_unlinked(message: OutboundMessage) -> str | None:
    if message.channel == Message.Channel.LINE and (
        message.resident is None or line_address(message.resident) != message.address
    ):
        return "line_unlinked"  # unfollowed or unlinked since the message was made
    return None


def _followup_stop_reason(message: OutboundMessage) -> str | None:
    reason = followup_stop_reason(message) or _line_unlinked(message)
    if reason is None and message.channel == Message.Channel.VOICE:
        reason = voice_stop_reason(message)
    return reason


def _reroute_without_line(message: OutboundMessage) -> None:
    """A LINE message that cannot go (unlinked, or refused by LINE) goes by SMS if the resident
    can get one, else by an automated call, else to the operators' phone list; once per event
    and channel, as always. A call that cannot go (calls turned off, no number) is re-routed
    the same way: by SMS if the resident can get one now, else the phone list."""
    if is_followup_message(message):
        followup_message_without_line(message, timezone.now())
        return
    assert message.resident is not None and message.reservation is not None
    route = route_without_line(message.resident)
    if route.channel == message.channel:
        # Routed back to the channel that could not carry it (calls turned on again since
        # our look): the (event, channel) row exists, so the phone list takes it.
        _call_list_fallback(message, Message.CallReason.VOICE_NOT_REACHED)
        return
    if route.channel == Message.Channel.CALL_LIST:
        _call_list_fallback(message, route.call_reason)
        return
    text = render(
        purpose=message.purpose, reservation=message.reservation, language=message.language
    )
    # Queued: the sweep sends it within a minute (a call within the calling hours: _prepare).
    _sibling_create(
        message,
        channel=route.channel,
        address=route.address,
        body=text.body,
        segments=text.segments if route.channel == Message.Channel.SMS else 0,
        not_before=message.not_before,
    )


def _claim(message: OutboundMessage, **changes: object) -> bool:
    """Write `changes` only if the message is still as we read it: a compare-and-set on its
    status, attempt start and attempt count, which change with every claim. Of two deliveries
    that read the same row (a redelivered task, the sweep), one wins and the other writes
    nothing. One statement in autocommit: no row lock is held across anything."""
    return (
        OutboundMessage.objects.filter(
            pk=message.pk,
            status=message.status,
            attempt_started_at=message.attempt_started_at,
            attempts=message.attempts,
        ).update(**changes, updated_at=timezone.now())
        == 1
    )


def _finish(message_id: int, claimed_at: dt.datetime, **changes: object) -> bool:
    """Record an attempt's outcome, only if this attempt still owns the message."""
    return (
        OutboundMessage.objects.filter(
            pk=message_id, status=Status.SENDING, attempt_started_at=claimed_at
        ).update(**changes, updated_at=timezone.now())
        == 1
    )


def _with_context() -> QuerySet[OutboundMessage]:
    """Messages with what the checks before a send read (resident, slot, event, broadcast),
    and what a LINE card names (vaccine, site, the municipality's call centre)."""
    return OutboundMessage.objects.select_related(
        "resident__municipality",
        "followup__person__municipality",
        "photo",
        "reservation__slot__operating_day__site",
        "reservation__vaccine",
        "reservation__resident__municipality",
        "event",
        "broadcast",
    )


def _claim_queued(messages: list[OutboundMessage], claimed_at: dt.datetime) -> set[int]:
    """`_claim` (queued -> sending, one more attempt) for many queued messages at once: the
    same compare-and-set per row, on the status, attempt start and attempt count read, in one
    statement per distinct (attempts, attempt start), usually one. Returns the ids this
    delivery claimed; a row another delivery changed since our read is left alone.

    Written out because Django's update() says how many rows changed, not which: RETURNING
    (PostgreSQL, SQLite 3.35+) names the rows won, so the rest are not sent."""
    ops = connection.ops
    columns = {field.name: field.column for field in OutboundMessage._meta.concrete_fields}

    def column(name: str) -> str:
        return ops.quote_name(columns[name])

    by_read_state: dict[tuple[int, dt.datetime | None], list[int]] = defaultdict(list)
    for message in messages:
        by_read_state[(message.attempts, message.attempt_started_at)].append(message.pk)
    claimed: set[int] = set()
    stamp = ops.adapt_datetimefield_value(claimed_at)
    for (attempts, started), ids in by_read_state.items():
        started_test = "IS NULL" if started is None else "= %s"
        # Only the model's own table and column names are written in; values are parameters.
        sql = (
            f"UPDATE {ops.quote_name(OutboundMessage._meta.db_table)}"  # noqa: S608
            f" SET {column('status')} = %s, {column('attempt_started_at')} = %s,"
            f" {column('attempts')} = {column('attempts')} + 1, {column('updated_at')} = %s"
            f" WHERE {column('id')} IN ({', '.join(['%s'] * len(ids))})"
            f" AND {column('status')} = %s AND {column('attempts')} = %s"
            f" AND {column('attempt_started_at')} {started_test}"
            f" RETURNING {column('id')}"
        )
        params: list[Any] = [Status.SENDING, stamp, stamp, *ids, Status.QUEUED, attempts]
        if started is not None:
            params.append(ops.adapt_datetimefield_value(started))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


def _record_accepted(
    accepted: list[tuple[OutboundMessage, Accepted]], claimed_at: dt.datetime
) -> None:
    """Record sends the provider took, all claimed at `claimed_at`: one statement for the
    messages, one for receipts that came in early."""
    now = timezone.now()
    by_provider: dict[str, dict[int, str]] = defaultdict(dict)
    for message, taken in accepted:
        by_provider[taken.provider][message.pk] = taken.provider_message_id
    for provider, provider_ids in by_provider.items():
        # Not in one transaction with the receipt lookup, on purpose: the provider's ids must
        # be committed before we look, so that a receipt stored after our look finds the
        # message itself (receipt_apply), and one stored before it is found here. Only
        # where this attempt still owns the message (`_finish`).
        recorded = OutboundMessage.objects.filter(
            pk__in=list(provider_ids), status=Status.SENDING, attempt_started_at=claimed_at
        ).update(
            status=Status.SENT,
            provider=provider,
            provider_message_id=Case(
                *(When(pk=pk, then=Value(value)) for pk, value in provider_ids.items()),
                output_field=CharField(),
            ),
            sent_at=now,
            last_error="",
            updated_at=now,
        )
        if not recorded:
            continue
        # A receipt may have come in before we wrote the provider's ids down.
        for receipt in SmsReceipt.objects.filter(
            provider=provider, provider_message_id__in=list(provider_ids.values())
        ).order_by("pk"):
            receipt_apply(receipt=receipt)


def message_deliver(*, message_id: int, now: dt.datetime | None = None) -> DeliveryResult:
    """Send one message through its channel's transport, at most once.

    Returns what happened; `retry_in` says when to call again (a transient failure, the rate
    limit). Permanent failures put the resident on the phone list.

    The message is read without a lock, then claimed (queued -> sending) by a conditional
    UPDATE on what was read (`_claim`), so two deliveries of the same message cannot both
    claim it. The claim is committed before the provider is called."""
    now = now or timezone.now()
    try:
        # get(), not first(): a lookup by primary key needs no ORDER BY (Meta.ordering).
        message = _with_context().get(pk=message_id)
    except OutboundMessage.DoesNotExist:
        return DeliveryResult(status="missing")
    return _deliver(message, now)


def _prepare(message: OutboundMessage, now: dt.datetime) -> DeliveryResult | None:
    """Everything before the rate limit and the claim. Returns the outcome when the message
    is not to be sent now (no transport, finished, in flight elsewhere, stopped, deferred),
    None when it is."""
    if message.channel not in TRANSPORTS:
        return DeliveryResult(status="missing")
    if message.status in (Status.SENT, *OutboundMessage.FINAL_STATUSES):
        return DeliveryResult(status=message.status)
    stale_before = now - dt.timedelta(seconds=settings.NOTIFY_SENDING_STALE_SECONDS)
    if (
        message.status == Status.SENDING
        and message.attempt_started_at
        and (message.attempt_started_at > stale_before)
    ):
        return DeliveryResult(status=message.status)  # another worker is on it
    if message.status in (Status.UNKNOWN, Status.SENDING):
        return None  # an earlier attempt may have been accepted: asked before sending again
    reason = _stop_reason(message, now)
    if reason is not None:
        if not _claim(message, status=Status.CANCELLED, last_error=reason, final_at=now):
            return DeliveryResult(status=Status.SENDING)  # another delivery got there first
        message.status = Status.CANCELLED
        if reason == "sms_not_allowed":
            _call_list_fallback(message, Message.CallReason.NO_CONSENT)
        elif reason in ("line_unlinked", VOICE_OFF, VOICE_NO_PHONE):
            _reroute_without_line(message)
        return DeliveryResult(status=message.status)
    if message.status == Status.QUEUED:
        changed = _number_changed(message)
        if changed is not None:
            # The person changed their number after the message was made (a verified change
            # on the web or in LINE, or an operator's): it goes to the number they use now.
            # Only a queued message (never tried, a transient failure, a call that rang
            # unanswered): one that may have reached the old number is not sent again to the
            # new one. A compare-and-set like every other write here.
            if not _claim(message, address=changed):
                return DeliveryResult(status=Status.SENDING)  # another delivery got there first
            message.address = changed
    wait_until = max(
        filter(None, [message.not_before, send_window_start(message, now)]), default=None
    )
    if wait_until is not None and wait_until > now:
        # Deferred, not scheduled: the sweep picks it up after `not_before` (a far
        # ETA on Redis would be redelivered in a loop).
        _claim(message, not_before=wait_until)
        return DeliveryResult(status="deferred")
    return None


def _number_changed(message: OutboundMessage) -> str | None:
    """The number a queued SMS or call should go to instead of its address, if the person's
    number changed since it was made (a follow-up's SMS is stopped instead: its number may be
    the family member's)."""
    if message.channel == Message.Channel.SMS and not is_followup_message(message):
        if message.resident is None:
            return None
        current = message.resident.phone
    elif message.channel == Message.Channel.VOICE:
        current = voice_phone_now(message)
    else:
        return None
    return current if current and current != message.address else None


def _deliver(message: OutboundMessage, now: dt.datetime) -> DeliveryResult:
    """`message_deliver` for a message already read."""
    done = _prepare(message, now)
    if done is not None:
        return done
    must_check = message.status in (Status.UNKNOWN, Status.SENDING)
    transport = TRANSPORTS[message.channel]
    # The shared rate limit before the claim: a throttled message is left exactly as it was
    # (nothing to give back, no attempt counted). A token taken by a delivery that then loses
    # the claim, or finds an earlier attempt accepted, is simply not used: the limit errs low.
    try:
        transport.take_capacity(message)
    except Throttled as throttled:
        return DeliveryResult(Status.QUEUED, throttled.wait)
    claimed_at = now
    attempts = message.attempts if must_check else message.attempts + 1
    # A queued message's attempt is counted with its claim; a message that must be checked
    # first counts one only if the check says it was not sent.
    if not _claim(message, status=Status.SENDING, attempt_started_at=claimed_at, attempts=attempts):
        return DeliveryResult(status=Status.SENDING)  # another delivery claimed it first
    if must_check:
        try:
            earlier = transport.find_previous(message)
        except TransientDeliveryError as error:
            _finish(message.pk, claimed_at, status=Status.UNKNOWN, last_error=str(error))
            return DeliveryResult(Status.UNKNOWN, _backoff(message.attempts, error.retry_after))
        if earlier is not None:
            _record_accepted([(message, earlier)], claimed_at)
            return DeliveryResult(status=Status.SENT)
        attempts += 1
        # Conditional like every write of an attempt: a call that ended since our claim has
        # moved the message on already (channels.notify.voice), and nothing is sent.
        if not _finish(message.pk, claimed_at, attempts=attempts):
            return DeliveryResult(status=Status.SENDING)
    outcome = _send(transport, message, claimed_at, attempts, now)
    if isinstance(outcome, DeliveryResult):
        return outcome
    _record_accepted([(message, outcome)], claimed_at)
    return DeliveryResult(status=Status.SENT)


def _send(
    transport: Transport,
    message: OutboundMessage,
    claimed_at: dt.datetime,
    attempts: int,
    now: dt.datetime,
) -> Accepted | DeliveryResult:
    """One attempt of a claimed message. A failure is recorded here (and the phone list or
    another channel takes over a permanent one); an acceptance is returned to be recorded
    by the caller, with others of its batch."""
    try:
        return transport.send(message)
    except PermanentDeliveryError as error:
        _finish(message.pk, claimed_at, status=Status.FAILED, last_error=str(error), final_at=now)
        if message.channel == Message.Channel.LINE:
            _reroute_without_line(message)
        else:
            _call_list_fallback(message, _failed_reason(message))
        return DeliveryResult(status=Status.FAILED)
    except NotAttempted as error:
        # Nothing reached the provider: given back untried, like a claim the batch could not
        # use, to go again shortly.
        _finish(
            message.pk,
            claimed_at,
            status=Status.QUEUED,
            attempts=F("attempts") - 1,
            last_error=str(error),
        )
        return DeliveryResult(Status.QUEUED, error.retry_after or 1.0)
    except TransientDeliveryError as error:
        next_status = Status.UNKNOWN if isinstance(error, AmbiguousDeliveryError) else Status.QUEUED
        if attempts >= settings.SMS_MAX_ATTEMPTS:
            _finish(
                message.pk, claimed_at, status=Status.FAILED, last_error=str(error), final_at=now
            )
            _call_list_fallback(message, _failed_reason(message))
            return DeliveryResult(status=Status.FAILED)
        _finish(message.pk, claimed_at, status=next_status, last_error=str(error))
        return DeliveryResult(next_status, _backoff(attempts, error.retry_after))


def _failed_reason(message: OutboundMessage) -> str:
    if message.channel == Message.Channel.VOICE:
        return Message.CallReason.VOICE_NOT_REACHED
    return Message.CallReason.SMS_FAILED


# Messages of a batch claimed, sent and recorded together: one token request, one claim and
# one record statement per group. Small, so that a worker lost mid-batch leaves few messages
# `sending` for the sweep, and a group holds few of the provider's tokens at a time.
SEND_GROUP = 10


def _group_overran(claimed_clock: float, deadline: float | None) -> bool:
    """Whether a group claimed at `claimed_clock` (time.monotonic()) must stop sending: past
    the batch's deadline, or so long after the claim that one more attempt could end after
    NOTIFY_SENDING_STALE_SECONDS, when the sweep takes a claim for one cut short."""
    now = time.monotonic()
    if deadline is not None and now > deadline:
        return True
    return (
        now - claimed_clock
        > settings.NOTIFY_SENDING_STALE_SECONDS - settings.NOTIFY_ATTEMPT_MAX_SECONDS
    )


def messages_deliver(
    *,
    message_ids: list[int],
    now: dt.datetime | None = None,
    deadline: float | None = None,
) -> dict[int, DeliveryResult]:
    """`message_deliver` for a batch: each message at most once, by the same state machine,
    with the round trips of the common case (queued, due, nothing to stop it) shared: one
    read for the batch; per group of SEND_GROUP, one rate-limit request, one claim, the
    provider's requests one after another, one statement recording them. Any other message
    (one to check with the provider first, in flight elsewhere, finished, stopped,
    deferred) goes through the single-message path.

    Returns each id's outcome. Past `deadline` (time.monotonic()) no new group is claimed:
    the rest come back `queued` with `retry_in` 0, to be handed over again."""
    fixed_now = now

    def clock() -> dt.datetime:
        # A batch takes seconds: each group is claimed (and its failures stamped) at its own
        # time, unless the caller fixed the clock.
        return fixed_now or timezone.now()

    now = clock()
    results = {message_id: DeliveryResult(status="missing") for message_id in message_ids}
    ready: dict[str, list[OutboundMessage]] = defaultdict(list)
    for message in _with_context().filter(pk__in=message_ids).order_by("pk"):
        if message.status != Status.QUEUED or message.channel not in TRANSPORTS:
            results[message.pk] = _deliver(message, now)
        elif (done := _prepare(message, now)) is not None:
            results[message.pk] = done
        else:
            ready[message.channel].append(message)
    for channel, messages in ready.items():
        transport = TRANSPORTS[channel]
        waiting = deque(messages)
        while waiting:
            if deadline is not None and time.monotonic() > deadline:
                for message in waiting:
                    results[message.pk] = DeliveryResult(Status.QUEUED, 0.0)
                break
            try:
                granted = transport.take_capacity(waiting[0], min(SEND_GROUP, len(waiting)))
            except Throttled as throttled:
                for message in waiting:
                    results[message.pk] = DeliveryResult(Status.QUEUED, throttled.wait)
                break
            group = [waiting.popleft() for _ in range(min(granted, len(waiting)))]
            claimed_at = clock()
            claimed_clock = time.monotonic()
            claimed = _claim_queued(group, claimed_at)
            accepted: list[tuple[OutboundMessage, Accepted]] = []
            for message in group:
                if message.pk not in claimed:
                    results[message.pk] = DeliveryResult(status=Status.SENDING)
                    continue
                if _group_overran(claimed_clock, deadline):
                    # The group's sends were slow: an unsent claim this old could soon look
                    # cut short to the sweep, which would send it too (and the batch would
                    # outlive the task's time limit). Give it back, untried, to go again.
                    _finish(
                        message.pk, claimed_at, status=Status.QUEUED, attempts=F("attempts") - 1
                    )
                    results[message.pk] = DeliveryResult(Status.QUEUED, 0.0)
                    continue
                outcome = _send(transport, message, claimed_at, message.attempts + 1, clock())
                if isinstance(outcome, DeliveryResult):
                    results[message.pk] = outcome
                else:
                    accepted.append((message, outcome))
                    results[message.pk] = DeliveryResult(status=Status.SENT)
            _record_accepted(accepted, claimed_at)
    return results


# --- Receipts --------------------------------------------------------------------------------

_RECEIPT_STATUS = {
    SmsReceipt.Outcome.DELIVERED: Status.DELIVERED,
    SmsReceipt.Outcome.UNDELIVERABLE: Status.UNDELIVERABLE,
}


def receipt_apply(*, receipt: SmsReceipt) -> int:
    """Move the receipt's message forward (never back). Returns how many messages changed."""
    target = _RECEIPT_STATUS.get(SmsReceipt.Outcome(receipt.outcome))
    if target is None:
        return 0
    lower = [s for s, rank in OutboundMessage.RANK.items() if rank < OutboundMessage.RANK[target]]
    changed = 0
    for message in OutboundMessage.objects.filter(
        provider=receipt.provider,
        provider_message_id=receipt.provider_message_id,
        status__in=lower,
    ).select_related("resident"):
        # Conditional on the status we read: a concurrent receipt moves it only once.
        if OutboundMessage.objects.filter(pk=message.pk, status=message.status).update(
            status=target, final_at=timezone.now(), updated_at=timezone.now()
        ):
            changed += 1
            if target == Status.UNDELIVERABLE:
                _call_list_fallback(message, Message.CallReason.UNDELIVERABLE)
    return changed


# --- The call list -------------------------------------------------------------------------


def call_list_mark_done(
    *, message: OutboundMessage, user: User, reached: bool, now: dt.datetime | None = None
) -> OutboundMessage:
    """An operator phoned the resident about this message."""
    if message.channel != Message.Channel.CALL_LIST:
        raise ValueError("only call-list entries are marked by operators")
    OutboundMessage.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=Status.DELIVERED if reached else Status.FAILED,
        handled_by=user,
        final_at=now or timezone.now(),
        updated_at=timezone.now(),
    )
    message.refresh_from_db()
    return message


# --- The sweep --------------------------------------------------------------------------------


@dataclass
class SweepReport:
    created: int = 0
    to_deliver: list[int] = field(default_factory=list)


def messages_sweep(*, now: dt.datetime | None = None) -> SweepReport:
    """Create the messages of handed-over events that have none (their task was lost) and
    pick up what must be sent now. Events still waiting for the relay are the relay's
    (tasks.sweep_task runs a relay pass after this one, so this minute's hand-over is looked
    at again only next minute, after its tasks ran).

    The caller enqueues `to_deliver`."""
    now = now or timezone.now()
    report = SweepReport()
    lookback = now - dt.timedelta(hours=settings.NOTIFY_SWEEP_LOOKBACK_HOURS)
    missing = (
        ReservationEvent.objects.filter(
            created_at__gte=lookback, kind__in=NOTIFIABLE_KINDS, relay_pending=False
        )
        .exclude(pk__in=OutboundMessage.objects.values("event_id"))
        # A hold given back makes no message (outbox.purpose_for): not missing, so not
        # looked at again every minute.
        .exclude(kind=ReservationEvent.Kind.CANCELLED, reservation__held_until__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    for event_id in list(missing):
        created = messages_create_for_event(event_id=event_id, now=now)
        report.created += len(created)
    stale_before = now - dt.timedelta(seconds=settings.NOTIFY_SENDING_STALE_SECONDS)
    reenqueue_before = now - dt.timedelta(seconds=settings.NOTIFY_REENQUEUE_AFTER_SECONDS)
    due = (
        OutboundMessage.objects.filter(channel__in=list(TRANSPORTS))
        .filter(
            Q(status__in=[Status.QUEUED, Status.UNKNOWN])
            & (Q(not_before__isnull=True) | Q(not_before__lte=now))
            & (Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=reenqueue_before))
            | Q(status=Status.SENDING, attempt_started_at__lt=stale_before)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    report.to_deliver = list(due)
    messages_mark_enqueued(message_ids=report.to_deliver, now=now)
    _broadcasts_finish()
    return report


__all__ = [
    "DeliveryResult",
    "call_list_add",
    "call_list_mark_done",
    "message_deliver",
    "messages_deliver",
    "messages_sweep",
    "receipt_apply",
]
