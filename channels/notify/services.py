"""Events → messages → delivery. Every function here is safe to run twice or concurrently.

- `messages_create_for_events`: one message per (event, channel), whoever asks first.
- `message_deliver`: the delivery state machine. A message is claimed (queued → sending) by
  a conditional update on the state it was read in; an attempt that may have reached the
  provider (a crash, a timeout, a 500) leaves it `unknown` or stale `sending`, and the next
  attempt asks the provider before it sends, so nothing is sent twice.
- `messages_sweep`: finds what the after-commit path missed (crash between commit and
  enqueue, a lost broker message, a worker killed mid-send).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.notify.models import Broadcast, OutboundMessage
from channels.notify.routing import line_address, route_for, route_without_line, sms_allowed
from channels.notify.texts import render
from channels.notify.transports import (
    TRANSPORTS,
    Accepted,
    AmbiguousDeliveryError,
    PermanentDeliveryError,
    Throttled,
    TransientDeliveryError,
)
from channels.sms.models import SmsReceipt
from reservations.exceptions import PermissionDenied, ReservationError
from reservations.models import Actor, Channel, OperatingDay, Reservation, ReservationEvent
from reservations.services.booking import Requester
from reservations.services.days import operating_day_cancel

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Message = OutboundMessage
Status = OutboundMessage.Status
Purpose = OutboundMessage.Purpose
Kind = ReservationEvent.Kind

NOTIFIABLE_KINDS = (Kind.BOOKED, Kind.CHANGED, Kind.CANCELLED, Kind.REMINDER_DUE)


def purpose_for(event: ReservationEvent) -> str | None:
    if event.kind == Kind.BOOKED:
        return Purpose.CONFIRMATION
    if event.kind == Kind.CHANGED:
        return Purpose.CHANGE
    if event.kind == Kind.REMINDER_DUE:
        return Purpose.REMINDER
    if event.kind == Kind.CANCELLED:
        if event.data.get("reason") == Reservation.CancelReason.BY_MUNICIPALITY:
            return Purpose.DAY_CANCELLED
        return Purpose.CANCELLATION
    return None


# --- Quiet hours ----------------------------------------------------------------------------


def _quiet_window(now: dt.datetime) -> tuple[dt.time, dt.time]:
    return settings.NOTIFY_QUIET_HOURS_START, settings.NOTIFY_QUIET_HOURS_END


def quiet_hours_end(now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet hours `now` falls in (Japan time), or None outside them."""
    start, end = _quiet_window(now)
    local = timezone.localtime(now)
    clock = local.time()
    in_quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not in_quiet:
        return None
    end_day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(end_day, end))


def _respects_quiet_hours(message: OutboundMessage) -> bool:
    # A booking the resident just made is confirmed at once; the same for their own changes
    # and cancellations. Reminders wait for the morning, and so does a broadcast unless staff
    # marked it urgent.
    if message.purpose == Purpose.REMINDER:
        return True
    if message.purpose == Purpose.DAY_CANCELLED or message.broadcast_id is not None:
        return not (message.broadcast is not None and message.broadcast.send_in_quiet_hours)
    return False


# --- Events → messages --------------------------------------------------------------------


def _broadcast_for(event: ReservationEvent) -> Broadcast | None:
    broadcast_id = event.data.get("broadcast")
    return Broadcast.objects.filter(pk=broadcast_id).first() if broadcast_id else None


def _message_for(event: ReservationEvent, now: dt.datetime) -> OutboundMessage | None:
    """The (unsaved) message this event gives rise to, if residents hear about it."""
    purpose = purpose_for(event)
    if purpose is None:
        return None
    reservation = event.reservation
    resident = reservation.resident
    route = route_for(resident)
    text = render(purpose=purpose, reservation=reservation, language=resident.preferred_language)
    message = OutboundMessage(
        event=event,
        reservation=reservation,
        resident=resident,
        broadcast=_broadcast_for(event),
        channel=route.channel,
        purpose=purpose,
        language=resident.preferred_language,
        address=route.address,
        body=text.body,
        segments=text.segments if route.channel == Message.Channel.SMS else 0,
        call_reason=route.call_reason,
    )
    if _respects_quiet_hours(message):
        message.not_before = quiet_hours_end(now)
    return message


def messages_create_for_events(
    *, event_ids: list[int], now: dt.datetime | None = None
) -> list[OutboundMessage]:
    """The messages these events give rise to, created if missing: an event that has any
    message already gets no new one. Four statements for the whole batch (the reminder scan
    hands over 200 events at a time). Safe to call repeatedly and concurrently: the (event,
    channel) constraint keeps one row per channel, whoever inserts first."""
    now = now or timezone.now()
    events = (
        ReservationEvent.objects.select_related(
            "reservation__resident__municipality", "reservation__slot__operating_day__site"
        )
        .filter(pk__in=event_ids)
        .order_by("pk")
    )
    messages = list(OutboundMessage.objects.filter(event_id__in=event_ids).order_by("pk"))
    have_messages = {message.event_id for message in messages}
    new = [
        message
        for event in events
        if event.pk not in have_messages and (message := _message_for(event, now)) is not None
    ]
    if new:
        # ON CONFLICT DO NOTHING: a row someone else inserted since our read stands and ours
        # is dropped, so the rows are read back (bulk inserts that skip conflicts get no ids).
        OutboundMessage.objects.bulk_create(new, ignore_conflicts=True)
        messages += OutboundMessage.objects.filter(
            event_id__in=[message.event_id for message in new]
        ).order_by("pk")
    return messages


def messages_create_for_event(
    *, event_id: int, now: dt.datetime | None = None
) -> list[OutboundMessage]:
    """The message(s) this event gives rise to, created if missing. Safe to call repeatedly
    and concurrently: the (event, channel) constraint keeps one row per channel."""
    return messages_create_for_events(event_ids=[event_id], now=now)


def deliverable_ids(messages: list[OutboundMessage]) -> list[int]:
    """Ids of the messages a transport should send now (not call-list rows, not finished)."""
    return [
        m.pk
        for m in messages
        if m.channel in TRANSPORTS and m.status in (Status.QUEUED, Status.UNKNOWN)
    ]


def messages_mark_enqueued(*, message_ids: list[int], now: dt.datetime | None = None) -> None:
    OutboundMessage.objects.filter(pk__in=message_ids).update(enqueued_at=now or timezone.now())


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


def _sibling_create(message: OutboundMessage, **fields: object) -> None:
    """A message for the same event on another channel; the (event, channel) constraint keeps
    it to one, whoever gets there first."""
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
        pass


def _call_list_fallback(message: OutboundMessage, reason: str) -> None:
    """Put the resident on the operators' phone list for this event (once)."""
    _sibling_create(
        message,
        channel=Message.Channel.CALL_LIST,
        address=message.resident.phone,
        body=message.body,
        call_reason=reason,
    )


def _stop_reason(message: OutboundMessage, now: dt.datetime) -> str | None:
    """Why a not-yet-sent message should not go out any more, if it should not."""
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
    if (
        message.channel == Message.Channel.LINE
        and line_address(message.resident) != message.address
    ):
        return "line_unlinked"  # unfollowed or unlinked since the message was made
    return None


def _reroute_without_line(message: OutboundMessage) -> None:
    """A LINE message that cannot go (unlinked, or refused by LINE) goes by SMS if the resident
    can get one, else to the operators' phone list; once per event and channel, as always."""
    route = route_without_line(message.resident)
    if route.channel == Message.Channel.CALL_LIST:
        _call_list_fallback(message, route.call_reason)
        return
    text = render(
        purpose=message.purpose, reservation=message.reservation, language=message.language
    )
    # Queued: the sweep sends it within a minute.
    _sibling_create(
        message,
        channel=route.channel,
        address=route.address,
        body=text.body,
        segments=text.segments,
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


def _record_accepted(message: OutboundMessage, claimed_at: dt.datetime, accepted: Accepted) -> None:
    now = timezone.now()
    # Not in one transaction with the receipt lookup, on purpose: the provider's id must be
    # committed before we look, so that a receipt stored after our look finds the message
    # itself (receipt_apply), and one stored before it is found here.
    if _finish(
        message.pk,
        claimed_at,
        status=Status.SENT,
        provider=accepted.provider,
        provider_message_id=accepted.provider_message_id,
        sent_at=now,
        last_error="",
    ):
        # A receipt may have come in before we wrote the provider's id down.
        for receipt in SmsReceipt.objects.filter(
            provider=accepted.provider, provider_message_id=accepted.provider_message_id
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
    stale_before = now - dt.timedelta(seconds=settings.NOTIFY_SENDING_STALE_SECONDS)
    try:
        # get(), not first(): a lookup by primary key needs no ORDER BY (Meta.ordering).
        message = OutboundMessage.objects.select_related(
            "resident", "reservation__slot", "event", "broadcast"
        ).get(pk=message_id)
    except OutboundMessage.DoesNotExist:
        return DeliveryResult(status="missing")
    if message.channel not in TRANSPORTS:
        return DeliveryResult(status="missing")
    if message.status in (Status.SENT, *OutboundMessage.FINAL_STATUSES):
        return DeliveryResult(status=message.status)
    if (
        message.status == Status.SENDING
        and message.attempt_started_at
        and (message.attempt_started_at > stale_before)
    ):
        return DeliveryResult(status=message.status)  # another worker is on it
    # An earlier attempt may have been accepted: ask before sending again.
    must_check = message.status in (Status.UNKNOWN, Status.SENDING)
    if not must_check:
        reason = _stop_reason(message, now)
        if reason is not None:
            if not _claim(message, status=Status.CANCELLED, last_error=reason, final_at=now):
                return DeliveryResult(status=Status.SENDING)  # another delivery got there first
            message.status = Status.CANCELLED
            if reason == "sms_not_allowed":
                _call_list_fallback(message, Message.CallReason.NO_CONSENT)
            elif reason == "line_unlinked":
                _reroute_without_line(message)
            return DeliveryResult(status=message.status)
        wait_until = message.not_before
        if _respects_quiet_hours(message):
            wait_until = max(filter(None, [wait_until, quiet_hours_end(now)]), default=None)
        if wait_until is not None and wait_until > now:
            # Deferred, not scheduled: the sweep picks it up after `not_before` (a far
            # ETA on Redis would be redelivered in a loop).
            _claim(message, not_before=wait_until)
            return DeliveryResult(status="deferred")
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
            _record_accepted(message, claimed_at, earlier)
            return DeliveryResult(status=Status.SENT)
        attempts += 1
        OutboundMessage.objects.filter(pk=message.pk).update(attempts=attempts)
    try:
        accepted = transport.send(message)
    except PermanentDeliveryError as error:
        _finish(message.pk, claimed_at, status=Status.FAILED, last_error=str(error), final_at=now)
        if message.channel == Message.Channel.LINE:
            _reroute_without_line(message)
        else:
            _call_list_fallback(message, Message.CallReason.SMS_FAILED)
        return DeliveryResult(status=Status.FAILED)
    except TransientDeliveryError as error:
        next_status = Status.UNKNOWN if isinstance(error, AmbiguousDeliveryError) else Status.QUEUED
        if attempts >= settings.SMS_MAX_ATTEMPTS:
            _finish(
                message.pk, claimed_at, status=Status.FAILED, last_error=str(error), final_at=now
            )
            _call_list_fallback(message, Message.CallReason.SMS_FAILED)
            return DeliveryResult(status=Status.FAILED)
        _finish(message.pk, claimed_at, status=next_status, last_error=str(error))
        return DeliveryResult(next_status, _backoff(attempts, error.retry_after))
    _record_accepted(message, claimed_at, accepted)
    return DeliveryResult(status=Status.SENT)


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
    """Create the messages the after-commit path missed and pick up what must be sent now.

    The caller enqueues `to_deliver`."""
    now = now or timezone.now()
    report = SweepReport()
    lookback = now - dt.timedelta(hours=settings.NOTIFY_SWEEP_LOOKBACK_HOURS)
    missing = (
        ReservationEvent.objects.filter(created_at__gte=lookback, kind__in=NOTIFIABLE_KINDS)
        .exclude(pk__in=OutboundMessage.objects.values("event_id"))
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


# --- Broadcasts -------------------------------------------------------------------------------


class SecondApproverRequired(ReservationError):
    code = "second_approver_required"
    default_message = _("作成者とは別の職員が承認してください。")


def broadcast_create(
    *, operating_day: OperatingDay, user: User, send_in_quiet_hours: bool = False
) -> Broadcast:
    """Prepare the cancellation of an operating day; nothing happens until approved."""
    if not user.has_perm("notify.add_broadcast"):
        raise PermissionDenied()
    existing = Broadcast.objects.filter(operating_day=operating_day).first()
    if existing is not None:
        return existing
    return Broadcast.objects.create(
        operating_day=operating_day, created_by=user, send_in_quiet_hours=send_in_quiet_hours
    )


def broadcast_approve(
    *, broadcast: Broadcast, user: User, now: dt.datetime | None = None
) -> Broadcast:
    """A second member of staff approves: the day is cancelled and every resident booked on it
    is told. Approving again (or twice at once) changes nothing."""
    if not user.has_perm("notify.approve_broadcast"):
        raise PermissionDenied()
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the broadcast: two approvals at once must cancel the day once.
        current = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if current.status != Broadcast.Status.DRAFT:
            return current
        if current.created_by_id == user.pk:
            raise SecondApproverRequired()
        cancelled = operating_day_cancel(
            operating_day=current.operating_day,
            # Staff act for the municipality from the admin; the event records who approved.
            requester=Requester(channel=Channel.PHONE, actor=Actor.OPERATOR, user=user),
            now=now,
            broadcast=current.pk,
        )
        current.status = Broadcast.Status.SENDING
        current.approved_by = user
        current.approved_at = now
        current.cancelled_reservations = len(cancelled)
        current.save()
    return current


def broadcast_messages_create(*, broadcast: Broadcast, now: dt.datetime | None = None) -> list[int]:
    """Create any missing message for the broadcast's events; returns ids to deliver. This is
    also how a broadcast resumes after a crash: existing messages are reused, never copied."""
    events = ReservationEvent.objects.filter(
        kind=Kind.CANCELLED, data__broadcast=broadcast.pk
    ).order_by("pk")
    to_deliver: list[int] = []
    for event_id in events.values_list("pk", flat=True):
        to_deliver += deliverable_ids(messages_create_for_event(event_id=event_id, now=now))
    return to_deliver


def _broadcasts_finish() -> None:
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SENDING):
        pending = broadcast.messages.filter(
            channel__in=list(TRANSPORTS), status__in=[Status.QUEUED, Status.SENDING, Status.UNKNOWN]
        )
        events = ReservationEvent.objects.filter(kind=Kind.CANCELLED, data__broadcast=broadcast.pk)
        if not pending.exists() and broadcast.messages.count() >= events.count():
            Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.DONE)


def broadcast_progress(*, broadcast: Broadcast) -> dict[str, int]:
    """Counts for the staff screen: recipients, and messages by channel and status."""
    counts: dict[str, int] = {
        "recipients": ReservationEvent.objects.filter(
            kind=Kind.CANCELLED, data__broadcast=broadcast.pk
        ).count()
    }
    rows = broadcast.messages.values("channel", "status").annotate(n=Count("pk"))
    for row in rows:
        counts[f"{row['channel']}:{row['status']}"] = row["n"]
    counts["sent"] = broadcast.messages.filter(
        channel__in=list(TRANSPORTS), status__in=[Status.SENT, Status.DELIVERED]
    ).count()
    counts["to_call"] = broadcast.messages.filter(
        channel=Message.Channel.CALL_LIST, status=Status.QUEUED
    ).count()
    return counts


__all__ = [
    "DeliveryResult",
    "SecondApproverRequired",
    "broadcast_approve",
    "broadcast_create",
    "broadcast_messages_create",
    "broadcast_progress",
    "call_list_mark_done",
    "deliverable_ids",
    "message_deliver",
    "messages_create_for_event",
    "messages_create_for_events",
    "messages_mark_enqueued",
    "messages_sweep",
    "purpose_for",
    "quiet_hours_end",
    "receipt_apply",
]
