"""Events → messages: which reservation events residents hear about (`purpose_for`,
`NOTIFIABLE_KINDS`), by which channel, and when (quiet hours). `messages_create_for_events` makes
one message per (event, channel), whoever asks first (a notice the resident was already given
in the LINE chat or on an automated call is written finished); `deliverable_ids` and
`messages_mark_enqueued` hand them over to be sent (`channels.notify.delivery`). Every function
here is safe to run twice or concurrently.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone, translation

from channels.line.notices import notice_alt_text
from channels.notify.models import Broadcast, OutboundMessage
from channels.notify.routing import Route, route_for
from channels.notify.texts import render
from channels.notify.transports import LINE_CHAT_PROVIDER, TRANSPORTS, VOICE_CALL_PROVIDER
from channels.notify.voice import calling_hours_wait
from reservations.models import Channel as ReservationChannel
from reservations.models import Reservation, ReservationEvent

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
        if event.reservation.held_until is not None:
            # A seat held and given back before it was confirmed (another time chosen, the
            # chat stopped): there was never a booking to call off.
            return None
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
    # marked it urgent. Calls keep the calling hours instead, whatever the message
    # (send_window_start).
    if message.channel == Message.Channel.VOICE:
        return False
    if message.purpose in (
        Purpose.REMINDER,
        Purpose.FOLLOWUP_INVITATION,
        Purpose.FOLLOWUP_REMINDER,
        Purpose.FOLLOWUP_PHOTO_RESULT,
    ):
        return True
    if message.purpose == Purpose.DAY_CANCELLED or message.broadcast_id is not None:
        return not (message.broadcast is not None and message.broadcast.send_in_quiet_hours)
    return False


def send_window_start(message: OutboundMessage, now: dt.datetime) -> dt.datetime | None:
    """When a message wanted at `now` may go, if not now: the end of the quiet hours for the
    messages that keep them, the calling hours for every call."""
    if message.channel == Message.Channel.VOICE:
        return calling_hours_wait(now)
    return quiet_hours_end(now) if _respects_quiet_hours(message) else None


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
    if route.channel == Message.Channel.LINE:
        return _line_message_for(event, purpose, route, now)
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
    if event.channel == ReservationChannel.VOICE and purpose in _ANSWERED_IN_CHAT:
        _given_on_the_call(message, now)
    else:
        message.not_before = send_window_start(message, now)
    return message


# The chat answers these itself, with the same card (channels.line.notices); an automated call
# says them itself before it hangs up (a booking cancelled by pressing 2, 2).
_ANSWERED_IN_CHAT = (Purpose.CONFIRMATION, Purpose.CHANGE, Purpose.CANCELLATION)


def _given_on_the_call(message: OutboundMessage, now: dt.datetime) -> None:
    """The resident changed this booking on an automated call, which told them so: the notice
    is written already sent, whatever the channel (an operator's call-list entry too), so it
    is neither called nor sent again, and the sweep does not make it again."""
    message.status = Status.SENT
    message.provider = VOICE_CALL_PROVIDER
    message.sent_at = now


def _line_message_for(
    event: ReservationEvent, purpose: str, route: Route, now: dt.datetime
) -> OutboundMessage:
    """The LINE notice of this event: one card per booking, naming the vaccine.

    Pushed (the transport draws the card) unless the resident already has it: a booking,
    change or cancellation made in the LINE chat was answered there with this card, and a
    later dose booked, moved or cancelled with its first is on the first dose's card. Those
    rows are written already finished, so the sweep does not make them again, and nothing is
    pushed; the stored body is the card's one-line text either way."""
    reservation = event.reservation
    language = route.language or reservation.resident.preferred_language
    with translation.override(language):
        body = notice_alt_text(reservation, purpose)
    message = OutboundMessage(
        event=event,
        reservation=reservation,
        resident=reservation.resident,
        broadcast=_broadcast_for(event),
        channel=Message.Channel.LINE,
        purpose=purpose,
        language=language,
        address=route.address,
        body=body,
    )
    if event.channel == ReservationChannel.LINE and purpose in _ANSWERED_IN_CHAT:
        message.status = Status.SENT
        message.provider = LINE_CHAT_PROVIDER
        message.sent_at = now
    elif event.channel == ReservationChannel.VOICE and purpose in _ANSWERED_IN_CHAT:
        _given_on_the_call(message, now)
    elif _on_first_dose_notice(event, purpose):
        message.status = Status.CANCELLED
        message.last_error = "on_first_dose_notice"
        message.final_at = now
    else:
        message.not_before = send_window_start(message, now)
    return message


def _on_first_dose_notice(event: ReservationEvent, purpose: str) -> bool:
    """Whether this event is a later dose of a series whose first dose has its own notice of
    the same change, which lists every dose (a series booked, confirmed, moved or cancelled
    together)."""
    if purpose == Purpose.CANCELLATION:
        return bool(event.data.get("reason") == Reservation.CancelReason.SERIES_CANCELLED)
    if purpose == Purpose.CONFIRMATION:
        # Booked as the next dose of another booking: directly (paired_with), by confirming
        # the held series, or when moving the first dose moved this one.
        return (
            "paired_with" in event.data
            or Reservation.objects.filter(next_dose_id=event.reservation_id).exists()
        )
    return False


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
            "reservation__resident__municipality",
            "reservation__slot__operating_day__site",
            "reservation__vaccine",
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


__all__ = [
    "deliverable_ids",
    "messages_create_for_event",
    "messages_create_for_events",
    "messages_mark_enqueued",
    "purpose_for",
    "quiet_hours_end",
    "send_window_start",
]
