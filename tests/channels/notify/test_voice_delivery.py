"""Automated calls as a notify channel, in this process: who is called instead of being put on
the call list, the calling hours, a call that finds every line taken, and what each end of a
call does to its message (delivered, called again later, the call list). Calls go through the
real `twilio` client to the Twilio voice stand-in, which plays them against our own webhooks on
the live server, signed; the clock is frozen (ticking) and every date is built from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from channels.followup.models import FollowUpCall
from channels.notify.broadcasts import broadcast_approve, broadcast_create
from channels.notify.delivery import message_deliver, messages_sweep
from channels.notify.followups import followup_message
from channels.notify.models import OutboundMessage
from channels.notify.outbox import messages_create_for_event
from channels.notify.routing import route_for
from channels.notify.transports import (
    VOICE_CALL_PROVIDER,
    VOICE_LINES_WAIT_SECONDS,
    VoiceTransport,
)
from channels.notify.voice import voice_call_finished, voice_retry_at
from channels.voice.models import VoiceCall
from channels.voice.standin import TwilioVoiceStandIn
from reservations.models import Actor, Reservation, ReservationEvent, Ticket
from reservations.models import Channel as BookingChannel
from reservations.services.booking import Requester, reservation_cancel
from reservations.services.reminders import reminders_record_due
from tests.channels.followup.test_answer_page import DAY1, follow
from tests.channels.notify.conftest import book, last_event
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World, jst, staff_with

Status = OutboundMessage.Status
Channel = OutboundMessage.Channel
CallReason = OutboundMessage.CallReason
Purpose = OutboundMessage.Purpose
Result = VoiceCall.Result

SID = "AC" + "5" * 32
TOKEN = "notify-voice-token"
LANDLINE = "+81987000001"
OTHER_LANDLINE = "+81987000002"
MOBILE = "+819012345678"
# The day after the booking (tests.channels.notify.conftest books at 2026-11-02 09:00).
MORNING = jst(2026, 11, 3, 10, 0)


@pytest.fixture
def voice_on(world: World, settings: Any) -> World:
    # Bookings commit in the stand-in tests: nothing may be handed over on commit.
    settings.NOTIFY_HANDOFF = "relay"
    # Calls reach someone: the console backend's simulator (tests with the stand-in set
    # VOICE_BACKEND=twilio themselves).
    settings.VOICE_SIMULATOR = True
    world.municipality.voice_calls_enabled = True
    world.municipality.save()
    return world


def landline_ticket(world: World, phone: str = LANDLINE) -> Ticket:
    ticket = world.resident()
    ticket.resident.phone = phone
    ticket.resident.save()
    return ticket


def confirmation(reservation: Reservation, now: dt.datetime) -> OutboundMessage:
    [message] = messages_create_for_event(
        event_id=last_event(reservation, ReservationEvent.Kind.BOOKED).pk, now=now
    )
    return message


def reload(message: OutboundMessage) -> OutboundMessage:
    return OutboundMessage.objects.get(pk=message.pk)


def call_list(reservation: Reservation) -> list[tuple[str, str]]:
    return list(
        OutboundMessage.objects.filter(reservation=reservation, channel=Channel.CALL_LIST)
        .order_by("pk")
        .values_list("call_reason", "status")
    )


# --- Routing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_landline_resident_is_called_when_the_city_has_voice_on(
    voice_on: World, now: dt.datetime
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, now)
    assert (message.channel, message.address, message.status) == (
        Channel.VOICE,
        LANDLINE,
        Status.QUEUED,
    )
    assert message.segments == 0 and reservation.code in message.body
    assert call_list(reservation) == []


@pytest.mark.django_db
def test_with_voice_off_a_landline_resident_stays_on_the_call_list(
    world: World, now: dt.datetime
) -> None:
    assert not world.municipality.voice_calls_enabled  # off unless the city turns it on
    reservation = book(world, landline_ticket(world), now)
    message = confirmation(reservation, now)
    assert (message.channel, message.call_reason) == (Channel.CALL_LIST, CallReason.NO_MOBILE)


@pytest.mark.django_db
def test_a_mobile_with_consent_gets_sms_and_without_consent_a_call(
    voice_on: World, now: dt.datetime
) -> None:
    resident = voice_on.resident().resident
    assert route_for(resident).channel == Channel.SMS
    resident.sms_consent = False
    resident.save()
    assert (route_for(resident).channel, route_for(resident).address) == (Channel.VOICE, MOBILE)
    resident.phone = ""
    resident.save()
    assert route_for(resident).channel == Channel.CALL_LIST


@pytest.mark.django_db
def test_a_followup_goes_by_voice_but_the_photo_verdict_to_the_call_list(
    voice_on: World,
) -> None:
    followup, _token = follow(voice_on, phone=LANDLINE)
    now = jst(2026, 11, 2, 10, 0)
    invitation = followup_message(
        followup=followup, day=DAY1, purpose=Purpose.FOLLOWUP_INVITATION, now=now
    )
    assert invitation is not None
    assert (invitation.channel, invitation.address, invitation.not_before) == (
        Channel.VOICE,
        LANDLINE,
        None,  # inside the calling hours
    )
    verdict = followup_message(
        followup=followup, day=DAY1, purpose=Purpose.FOLLOWUP_PHOTO_RESULT, now=now
    )
    assert verdict is None
    assert list(FollowUpCall.objects.values_list("reason", flat=True)) == [
        FollowUpCall.Reason.NOT_REACHED
    ]
    # Before the calling hours the invitation waits for them, not for the end of quiet hours.
    early = followup_message(
        followup=followup, day=DAY1, purpose=Purpose.FOLLOWUP_REMINDER, now=jst(2026, 11, 2, 7)
    )
    assert early is not None and early.not_before == jst(2026, 11, 2, 9, 0)


# --- Calling hours and stop reasons ----------------------------------------------------------


@pytest.mark.django_db
def test_calls_wait_for_the_calling_hours(voice_on: World, now: dt.datetime) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, now)
    before_nine = jst(2026, 11, 3, 8, 59)
    assert message_deliver(message_id=message.pk, now=before_nine).status == "deferred"
    assert reload(message).not_before == jst(2026, 11, 3, 9, 0)

    evening = jst(2026, 11, 3, 20, 0)
    OutboundMessage.objects.filter(pk=message.pk).update(not_before=None)
    assert message_deliver(message_id=message.pk, now=evening).status == "deferred"
    stored = reload(message)
    assert stored.not_before == jst(2026, 11, 4, 9, 0)
    assert (stored.status, stored.attempts) == (Status.QUEUED, 0)
    # The sweep leaves it until then.
    assert message.pk not in messages_sweep(now=jst(2026, 11, 4, 8, 59)).to_deliver
    assert message.pk in messages_sweep(now=jst(2026, 11, 4, 9, 0)).to_deliver


@pytest.mark.django_db
def test_an_urgent_broadcast_still_keeps_the_calling_hours(
    voice_on: World, now: dt.datetime
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    requester = staff_with("requester", "add_broadcast", "cancel_operating_day")
    approver = staff_with("approver", "approve_broadcast", "cancel_operating_day")
    broadcast = broadcast_create(
        operating_day=reservation.slot.operating_day, user=requester, send_in_quiet_hours=True
    )
    night = jst(2026, 11, 3, 22, 30)
    broadcast_approve(broadcast=broadcast, user=approver, now=night)
    event = last_event(reservation, ReservationEvent.Kind.CANCELLED)
    [message] = messages_create_for_event(event_id=event.pk, now=night)
    assert (message.channel, message.purpose) == (Channel.VOICE, Purpose.DAY_CANCELLED)
    assert message.not_before == jst(2026, 11, 4, 9, 0)
    assert message_deliver(message_id=message.pk, now=night).status == "deferred"


@pytest.mark.django_db
def test_a_call_the_city_turned_off_goes_to_the_call_list(
    voice_on: World, now: dt.datetime
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, now)
    voice_on.municipality.voice_calls_enabled = False
    voice_on.municipality.save()
    assert message_deliver(message_id=message.pk, now=MORNING).status == Status.CANCELLED
    assert reload(message).last_error == "voice_off"
    assert call_list(reservation) == [(CallReason.NO_MOBILE, Status.QUEUED)]
    assert not VoiceCall.objects.exists()


@pytest.mark.django_db
def test_a_resident_whose_number_is_gone_goes_to_the_call_list(
    voice_on: World, now: dt.datetime
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, now)
    reservation.resident.phone = ""
    reservation.resident.save()
    assert message_deliver(message_id=message.pk, now=MORNING).status == Status.CANCELLED
    assert reload(message).last_error == "voice_no_phone"
    assert call_list(reservation) == [(CallReason.NO_MOBILE, Status.QUEUED)]


@pytest.mark.django_db
def test_with_voice_off_a_resident_who_now_takes_sms_gets_one(
    voice_on: World, now: dt.datetime
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, now)
    voice_on.municipality.voice_calls_enabled = False
    voice_on.municipality.save()
    reservation.resident.phone = MOBILE
    reservation.resident.save()
    assert message_deliver(message_id=message.pk, now=MORNING).status == Status.CANCELLED
    sms = OutboundMessage.objects.get(reservation=reservation, channel=Channel.SMS)
    assert (sms.address, sms.status, sms.body) == (MOBILE, Status.QUEUED, message.body)
    assert call_list(reservation) == []


@pytest.mark.parametrize("phone", [LANDLINE, MOBILE])
@pytest.mark.django_db
def test_a_cancellation_made_on_a_call_is_not_told_again(
    voice_on: World, now: dt.datetime, phone: str, http_sms: GatewayStandIn
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on, phone), now)
    reservation_cancel(
        reservation=reservation,
        requester=Requester(channel=BookingChannel.VOICE, actor=Actor.RESIDENT),
        now=MORNING,
    )
    event = last_event(reservation, ReservationEvent.Kind.CANCELLED)
    assert event.channel == BookingChannel.VOICE
    [message] = messages_create_for_event(event_id=event.pk, now=MORNING)
    assert message.channel == (Channel.VOICE if phone == LANDLINE else Channel.SMS)
    assert (message.status, message.provider, message.sent_at) == (
        Status.SENT,
        VOICE_CALL_PROVIDER,
        MORNING,
    )
    # Nothing to send: the sweep and a redelivered task leave it alone.
    assert message.pk not in messages_sweep(now=MORNING).to_deliver
    assert message_deliver(message_id=message.pk, now=MORNING).status == Status.SENT
    assert not VoiceCall.objects.exists() and http_sms.posts == 0
    # Made again (the sweep, a second relay), it is still the one finished row.
    assert messages_create_for_event(event_id=event.pk, now=MORNING) == [message]


def test_a_retry_waits_longer_each_time_and_only_in_calling_hours(settings: Any) -> None:
    settings.VOICE_RETRY_BACKOFF_SECONDS = 900
    assert voice_retry_at(1, jst(2026, 11, 3, 10, 0)) == jst(2026, 11, 3, 10, 15)
    assert voice_retry_at(2, jst(2026, 11, 3, 10, 0)) == jst(2026, 11, 3, 10, 30)
    assert voice_retry_at(1, jst(2026, 11, 3, 19, 50)) == jst(2026, 11, 4, 9, 0)


# --- Calls through the stand-in ------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The whole process (the live server's threads too) at MORNING, ticking."""
    with time_machine.travel(MORNING, tick=True) as traveller:
        yield traveller


@pytest.fixture
def twilio(settings: Any, live_server: Any, clock: Any) -> Iterator[TwilioVoiceStandIn]:
    """The stand-in, placing calls on our webhooks at the live server. Each call rings for a
    moment first, so this thread is done writing before the first webhook comes in."""
    with TwilioVoiceStandIn(SID, TOKEN, answer_seconds=0.3) as standin:
        settings.VOICE_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.VOICE_FROM_NUMBER = "+815012345678"
        settings.TWILIO_API_BASE_URL = standin.base_url
        settings.VOICE_CALLBACK_BASE_URL = live_server.url
        yield standin
        assert standin.wait_idle(15)


def played(standin: TwilioVoiceStandIn) -> None:
    assert standin.wait_idle(15)
    errors = [error for call in standin.calls for error in call.errors]
    assert errors == []


def test_an_answered_reminder_is_delivered_even_in_quiet_hours(
    transactional_db: None,
    voice_on: World,
    now: dt.datetime,
    twilio: TwilioVoiceStandIn,
    settings: Any,
) -> None:
    # Quiet hours over the morning: they keep an SMS or LINE reminder waiting, never a call.
    settings.NOTIFY_QUIET_HOURS_START = dt.time(9, 0)
    settings.NOTIFY_QUIET_HOURS_END = dt.time(12, 0)
    reservation = book(voice_on, landline_ticket(voice_on), now)
    [event_id] = reminders_record_due(remind_at=dt.time(10, 0), now=jst(2026, 11, 9, 10, 0))
    [message] = messages_create_for_event(event_id=event_id, now=timezone.now())
    assert (message.channel, message.purpose, message.not_before) == (
        Channel.VOICE,
        Purpose.REMINDER,
        None,
    )
    assert message_deliver(message_id=message.pk).status == Status.SENT
    played(twilio)

    [placed] = twilio.calls
    assert placed.to == LANDLINE and placed.said and placed.status == "completed"
    call = VoiceCall.objects.get()
    assert (call.reference, call.flow, call.result, call.line) == (
        str(message.retry_key),
        "reminder",
        Result.ANSWERED,
        None,
    )
    stored = reload(message)
    assert stored.status == Status.DELIVERED and stored.final_at is not None
    assert (stored.provider, stored.provider_message_id) == ("twilio", placed.sid)
    assert call_list(reservation) == []
    # The end signalled again (or late) changes nothing.
    assert voice_call_finished(call=call) is None
    assert reload(message).status == Status.DELIVERED


def test_an_answering_machine_counts_as_delivered(
    transactional_db: None, voice_on: World, now: dt.datetime, twilio: TwilioVoiceStandIn
) -> None:
    twilio.behave(LANDLINE, "machine")
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    message_deliver(message_id=message.pk)
    played(twilio)
    call = VoiceCall.objects.get()
    assert (call.result, call.answered_by) == (Result.MACHINE, "machine_end_beep")
    assert call.line is None and call.ended_at is not None  # ended, its line free again
    assert reload(message).status == Status.DELIVERED
    assert call_list(reservation) == []


def test_a_failed_call_puts_the_resident_on_the_call_list(
    transactional_db: None, voice_on: World, now: dt.datetime, twilio: TwilioVoiceStandIn
) -> None:
    twilio.behave(LANDLINE, "failed")
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    message_deliver(message_id=message.pk)
    played(twilio)
    assert VoiceCall.objects.get().result == Result.FAILED
    assert reload(message).status == Status.FAILED
    assert call_list(reservation) == [(CallReason.VOICE_NOT_REACHED, Status.QUEUED)]


def test_busy_three_times_is_called_again_later_then_put_on_the_call_list(
    transactional_db: None,
    voice_on: World,
    now: dt.datetime,
    twilio: TwilioVoiceStandIn,
    clock: time_machine.Coordinates,
    settings: Any,
) -> None:
    settings.VOICE_MAX_ATTEMPTS = 3
    settings.VOICE_RETRY_BACKOFF_SECONDS = 900
    twilio.behave(LANDLINE, "busy", "no-answer", "busy")
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    waits = []
    for attempt in (1, 2):
        assert message_deliver(message_id=message.pk).status == Status.SENT
        played(twilio)
        stored = reload(message)
        call = VoiceCall.objects.get(attempt=attempt)
        assert call.ended_at is not None and stored.not_before is not None
        assert (stored.status, stored.enqueued_at, stored.provider, stored.provider_message_id) == (
            Status.QUEUED,
            None,
            "",
            "",
        )
        waits.append(round((stored.not_before - call.ended_at).total_seconds()))
        # Not called again before its time; the sweep hands it over once the time has come.
        assert message_deliver(message_id=message.pk).status == "deferred"
        assert message.pk not in messages_sweep().to_deliver
        clock.move_to(stored.not_before)
        assert message.pk in messages_sweep().to_deliver
    assert waits == [900, 1800]
    assert call_list(reservation) == []

    assert message_deliver(message_id=message.pk).status == Status.SENT
    played(twilio)
    assert reload(message).status == Status.UNDELIVERABLE
    assert call_list(reservation) == [(CallReason.VOICE_NOT_REACHED, Status.QUEUED)]
    results = list(VoiceCall.objects.order_by("attempt").values_list("attempt", "result"))
    assert results == [(1, Result.BUSY), (2, Result.NO_ANSWER), (3, Result.BUSY)]
    assert len(twilio.calls_to(LANDLINE)) == settings.VOICE_MAX_ATTEMPTS
    # Nothing more: a late sweep finds nothing to send.
    assert message.pk not in messages_sweep(now=timezone.now() + dt.timedelta(days=1)).to_deliver


def test_a_call_that_finds_every_line_taken_goes_back_untried(
    transactional_db: None,
    voice_on: World,
    now: dt.datetime,
    twilio: TwilioVoiceStandIn,
    settings: Any,
) -> None:
    settings.VOICE_MAX_CONCURRENT_CALLS = 1
    # The other call rings longer than a delivery waits for a line (MAX_INLINE_WAIT_SECONDS).
    twilio.answer_seconds = 3.0
    ours = confirmation(book(voice_on, landline_ticket(voice_on), now), timezone.now())
    other = confirmation(
        book(voice_on, landline_ticket(voice_on, OTHER_LANDLINE), now), timezone.now()
    )
    # Between our look at the lines and our call, another worker takes the last one.
    take_capacity = VoiceTransport.take_capacity
    raced: list[str] = []

    def another_worker_calls_first(self: VoiceTransport, message: Any, count: int = 1) -> int:
        granted = take_capacity(self, message, count)
        if not raced:  # in our delivery only, not again in the other one's
            raced.append("running")
            raced[0] = message_deliver(message_id=other.pk).status
        return granted

    with mock.patch.object(VoiceTransport, "take_capacity", another_worker_calls_first):
        result = message_deliver(message_id=ours.pk)
    assert raced == [Status.SENT]
    assert (result.status, result.retry_in) == (Status.QUEUED, VOICE_LINES_WAIT_SECONDS)
    stored = reload(ours)
    assert (stored.status, stored.attempts) == (Status.QUEUED, 0)
    assert "line" in stored.last_error
    assert not VoiceCall.objects.filter(reference=str(ours.retry_key)).exists()

    # While the other call is on the line, ours is not even claimed.
    assert message_deliver(message_id=ours.pk).retry_in == VOICE_LINES_WAIT_SECONDS
    assert reload(ours).attempts == 0
    played(twilio)
    assert message_deliver(message_id=ours.pk).status == Status.SENT
    played(twilio)
    assert reload(ours).status == reload(other).status == Status.DELIVERED
    assert reload(ours).attempts == 1
    assert [call.to for call in twilio.calls] == [OTHER_LANDLINE, LANDLINE]


def test_a_number_changed_before_the_call_is_the_one_called(
    transactional_db: None, voice_on: World, now: dt.datetime, twilio: TwilioVoiceStandIn
) -> None:
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    reservation.resident.phone = OTHER_LANDLINE
    reservation.resident.save()
    message_deliver(message_id=message.pk)
    played(twilio)
    assert [call.to for call in twilio.calls] == [OTHER_LANDLINE]
    stored = reload(message)
    assert (stored.address, stored.status) == (OTHER_LANDLINE, Status.DELIVERED)


def test_a_call_that_ends_before_its_placing_is_recorded_still_counts(
    transactional_db: None, voice_on: World, now: dt.datetime, twilio: TwilioVoiceStandIn
) -> None:
    # The provider places the call and its busy signal reaches our webhook while the answer to
    # `calls.create` is still on its way: the message is still `sending` when the call ends.
    twilio.script(["accept_hang:1"])
    twilio.behave(LANDLINE, "busy")
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    message_deliver(message_id=message.pk)
    played(twilio)
    [placed] = twilio.calls
    call = VoiceCall.objects.get()
    assert (call.result, call.provider_call_id) == (Result.BUSY, placed.sid)
    stored = reload(message)
    # Queued to be called again, not left `sent` waiting for an end that has come and gone.
    assert (stored.status, stored.provider_message_id) == (Status.QUEUED, "")
    assert stored.not_before is not None and stored.not_before > timezone.now()


def test_a_lost_answer_from_the_provider_never_calls_twice(
    transactional_db: None,
    voice_on: World,
    now: dt.datetime,
    twilio: TwilioVoiceStandIn,
    settings: Any,
) -> None:
    # The provider places the call, but its answer to `calls.create` comes after the client
    # has given up: the attempt may have been placed, and the call plays meanwhile.
    settings.SMS_HTTP_READ_TIMEOUT = 1.0
    twilio.script(["accept_hang:2"])
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    message_deliver(message_id=message.pk)
    played(twilio)
    # Its end reached us and finished the message; a later delivery sends nothing.
    assert reload(message).status == Status.DELIVERED
    assert message_deliver(message_id=message.pk).status == Status.DELIVERED
    [placed] = twilio.calls
    call = VoiceCall.objects.get()
    assert (call.attempt, call.result, call.provider_call_id) == (1, Result.ANSWERED, placed.sid)


def test_an_attempt_the_provider_refused_with_a_500_is_checked_then_called_once(
    transactional_db: None, voice_on: World, now: dt.datetime, twilio: TwilioVoiceStandIn
) -> None:
    twilio.script(["500"])
    reservation = book(voice_on, landline_ticket(voice_on), now)
    message = confirmation(reservation, timezone.now())
    assert message_deliver(message_id=message.pk).status == Status.UNKNOWN
    first = VoiceCall.objects.get()
    assert first.is_open and first.line is not None  # maybe placed: its line is kept

    # The next delivery asks the provider first, finds no such call, and places the call.
    assert message_deliver(message_id=message.pk).status == Status.SENT
    played(twilio)
    calls = list(
        VoiceCall.objects.order_by("attempt").values_list("attempt", "result", "provider_call_id")
    )
    assert calls == [(1, Result.FAILED, ""), (2, Result.ANSWERED, twilio.calls[0].sid)]
    stored = reload(message)
    assert (stored.status, stored.attempts) == (Status.DELIVERED, 2)
    assert len(twilio.calls) == 1 and call_list(reservation) == []


def test_calls_that_would_reach_nobody_leave_the_resident_on_the_call_list(
    voice_on: World, now: dt.datetime, settings: Any
) -> None:
    # The console backend dials nobody: without its simulator, a city's calls turned on must
    # not swallow its landline residents' notices.
    settings.VOICE_BACKEND = "console"
    settings.VOICE_SIMULATOR = False
    message = confirmation(book(voice_on, landline_ticket(voice_on), now), now)
    assert message.channel == OutboundMessage.Channel.CALL_LIST
