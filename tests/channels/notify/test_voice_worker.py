"""Automated calls through a real Celery worker on Redis, as in production: the relay hands the
committed events to the worker, which places the calls through the real `twilio` client on the
Twilio voice stand-in; the stand-in plays them against our webhooks on the live server (this
process), signed, pressing the keys each test gives. Every flow: confirm, cancel, call back, an
answering machine, busy until the call list, the calling hours, the simultaneous-call limit
under 200 queued calls, and a forged callback.

The worker runs on today's clock (a subprocess cannot be frozen), so the calling hours are set
to the whole day unless a test says otherwise, and the bookings a reminder is about are in 2099,
in a campaign without an end: a reminder is never too late, whatever the date of the run."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.notify.models import OutboundMessage
from channels.notify.tasks import sweep_task
from channels.notify.transports import VOICE_CALL_PROVIDER
from channels.voice.models import VoiceCall, VoiceKeyPress
from channels.voice.standin import TwilioVoiceStandIn
from reservations.models import Campaign, Program, Reservation, ReservationEvent, Slot, Ticket
from reservations.models import Channel as BookingChannel
from reservations.services.reminders import reminders_record_due
from tests.channels.notify.conftest import book
from tests.channels.notify.test_worker import Worker, wait_for, worker  # noqa: F401
from tests.channels.sms.standin import GatewayStandIn
from tests.world import World, jst

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

Status = OutboundMessage.Status
Channel = OutboundMessage.Channel
Purpose = OutboundMessage.Purpose
Action = VoiceKeyPress.Action
Result = VoiceCall.Result

SID = "AC" + "9" * 32
TOKEN = "worker-voice-token"
LANDLINE = "+81987000001"
ALL_DAY = ("00:00", "23:59:59.999999")
FAR_DAY = dt.date(2099, 11, 10)
FAR_BOOKING = jst(2099, 11, 2, 9, 0)
FAR_REMINDER = jst(2099, 11, 9, 10, 0)


@pytest.fixture
def twilio(settings: Any, live_server: Any) -> Iterator[TwilioVoiceStandIn]:
    """The stand-in, and this process's settings for the webhooks it calls: the end of each
    call is recorded here, and what follows it (a retry's time, the call list) decided here."""
    with TwilioVoiceStandIn(SID, TOKEN, answer_seconds=0.2) as standin:
        settings.VOICE_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.VOICE_FROM_NUMBER = "+815012345678"
        settings.TWILIO_API_BASE_URL = standin.base_url
        settings.VOICE_CALLBACK_BASE_URL = live_server.url
        settings.VOICE_CALLING_HOURS_START = dt.time.fromisoformat(ALL_DAY[0])
        settings.VOICE_CALLING_HOURS_END = dt.time.fromisoformat(ALL_DAY[1])
        settings.VOICE_RETRY_BACKOFF_SECONDS = 1
        settings.VOICE_MAX_ATTEMPTS = 3
        yield standin
        standin.wait_idle(15)


def voice_env(
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    *,
    hours: tuple[str, str] = ALL_DAY,
    lines: int = 5,
) -> dict[str, str]:
    """The worker's settings: it places the calls."""
    return {
        "VOICE_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "VOICE_FROM_NUMBER": "+815012345678",
        "TWILIO_API_BASE_URL": twilio.base_url,
        "VOICE_CALLBACK_BASE_URL": live_server.url,
        "VOICE_CALLING_HOURS_START": hours[0],
        "VOICE_CALLING_HOURS_END": hours[1],
        "VOICE_MAX_CONCURRENT_CALLS": str(lines),
    }


def voice_city(world: World) -> None:
    world.municipality.voice_calls_enabled = True
    world.municipality.save()


def landline_ticket(world: World, phone: str = LANDLINE) -> Ticket:
    ticket = world.resident()
    ticket.resident.phone = phone
    ticket.resident.save()
    return ticket


def only(queryset: Any) -> Any:
    wait_for(queryset.exists)
    return queryset.get()


def reload(message: OutboundMessage) -> OutboundMessage:
    return OutboundMessage.objects.get(pk=message.pk)


def settled(
    process: Worker, twilio: TwilioVoiceStandIn, message: OutboundMessage
) -> OutboundMessage:
    """The message once its call has ended and been recorded; the stand-in saw no error."""
    try:
        wait_for(lambda: reload(message).status in OutboundMessage.FINAL_STATUSES, timeout=60)
    except AssertionError:
        raise AssertionError(process.log.read_text(errors="replace")[-4000:]) from None
    assert twilio.wait_idle(15)
    assert [error for call in twilio.calls for error in call.errors] == []
    return reload(message)


def reminder_call(
    world: World, process: Worker, twilio: TwilioVoiceStandIn, *behaviour: str
) -> tuple[Reservation, OutboundMessage]:
    """A landline resident's booking in 2099 and its day-before reminder, called and ended
    with `behaviour`. The booking's own confirmation is made while the city has calls off, so
    it goes on the call list and the reminder is the only call."""
    campaign = Campaign.objects.create(
        code="test-open-ended",
        name="定期接種（終わりなし）",
        program=Program.objects.get(code="covid-routine"),
        starts_on=dt.date(2026, 10, 1),
    )
    campaign.vaccines.add(world.vaccine)
    world.campaign = campaign
    reservation = book(world, landline_ticket(world), FAR_BOOKING, day=FAR_DAY)
    only(OutboundMessage.objects.filter(reservation=reservation, purpose=Purpose.CONFIRMATION))
    voice_city(world)
    twilio.behave(LANDLINE, *behaviour)
    [event_id] = reminders_record_due(remind_at=dt.time(10, 0), now=FAR_REMINDER)
    message = only(OutboundMessage.objects.filter(event_id=event_id, channel=Channel.VOICE))
    return reservation, settled(process, twilio, message)


def keys(message: OutboundMessage) -> list[tuple[str, str]]:
    call = VoiceCall.objects.get(reference=str(message.retry_key))
    return list(call.keys.order_by("pk").values_list("digits", "action"))


# --- The reminder's keys -------------------------------------------------------------------


def test_pressing_1_confirms_the_booking(
    world: World,
    worker: Worker,  # noqa: F811 - the fixture imported above
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    http_sms: GatewayStandIn,
) -> None:
    worker.start(**voice_env(twilio, live_server))
    reservation, message = reminder_call(world, worker, twilio, "keys:1")
    assert message.status == Status.DELIVERED
    assert keys(message) == [("1", Action.CONFIRMED)]
    assert twilio.call_for(LANDLINE).digits == ["1"]
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED
    assert http_sms.posts == 0


def test_pressing_2_twice_cancels_and_nothing_is_sent_about_it(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    http_sms: GatewayStandIn,
) -> None:
    worker.start(**voice_env(twilio, live_server))
    reservation, message = reminder_call(world, worker, twilio, "keys:2,2")
    assert message.status == Status.DELIVERED
    assert keys(message) == [("2", Action.CANCEL_ASKED), ("2", Action.CANCELLED)]
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CANCELLED
    assert Slot.objects.get(pk=reservation.slot_id).booked == 0  # the seat is free again
    cancelled = reservation.events.get(kind=ReservationEvent.Kind.CANCELLED)
    assert cancelled.channel == BookingChannel.VOICE
    # The relay hands the cancellation to the worker like any event; the call told it already.
    notice = only(OutboundMessage.objects.filter(event=cancelled))
    assert (notice.channel, notice.status, notice.provider) == (
        Channel.VOICE,
        Status.SENT,
        VOICE_CALL_PROVIDER,
    )
    sweep_task.delay()
    time.sleep(2)
    assert len(twilio.calls_to(LANDLINE)) == 1 and http_sms.posts == 0
    assert OutboundMessage.objects.filter(event=cancelled).count() == 1


def test_pressing_0_puts_the_resident_on_the_call_list(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
) -> None:
    worker.start(**voice_env(twilio, live_server))
    reservation, message = reminder_call(world, worker, twilio, "keys:0")
    assert message.status == Status.DELIVERED
    assert keys(message) == [("0", Action.CALLBACK)]
    entry = OutboundMessage.objects.get(event=message.event, channel=Channel.CALL_LIST)
    assert (entry.call_reason, entry.status, entry.address) == (
        OutboundMessage.CallReason.VOICE_CALLBACK,
        Status.QUEUED,
        LANDLINE,
    )
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CONFIRMED


def test_an_answering_machine_gets_the_short_message(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
) -> None:
    worker.start(**voice_env(twilio, live_server))
    _reservation, message = reminder_call(world, worker, twilio, "machine")
    assert message.status == Status.DELIVERED
    call = VoiceCall.objects.get(reference=str(message.retry_key))
    assert (call.result, call.line) == (Result.MACHINE, None)
    assert keys(message) == [] and twilio.call_for(LANDLINE).digits == []


# --- Retries, calling hours, lines -------------------------------------------------------------


def test_busy_is_called_again_then_put_on_the_call_list(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    now: dt.datetime,
) -> None:
    worker.start(**voice_env(twilio, live_server))
    voice_city(world)
    twilio.behave(LANDLINE, "busy", "busy", "busy")
    reservation = book(world, landline_ticket(world), now)
    message = only(OutboundMessage.objects.filter(reservation=reservation, channel=Channel.VOICE))
    reference = str(message.retry_key)
    for calls in (1, 2):
        wait_for(
            lambda calls=calls: (
                VoiceCall.objects.filter(
                    reference=reference, attempt=calls, ended_at__isnull=False
                ).exists()
                and reload(message).status == Status.QUEUED
            )
        )
        waiting = reload(message)
        assert waiting.not_before is not None and waiting.provider_message_id == ""
        # The beat's sweep hands it over once its time has come (VOICE_RETRY_BACKOFF_SECONDS
        # is 1 here, doubled for the second retry).
        time.sleep(max(0.0, (waiting.not_before - timezone.now()).total_seconds()) + 0.1)
        sweep_task.delay()
    final = settled(worker, twilio, message)
    assert final.status == Status.UNDELIVERABLE
    results = list(
        VoiceCall.objects.filter(reference=reference).order_by("attempt").values_list("result")
    )
    assert results == [(Result.BUSY,)] * 3
    entry = OutboundMessage.objects.get(reservation=reservation, channel=Channel.CALL_LIST)
    assert entry.call_reason == OutboundMessage.CallReason.VOICE_NOT_REACHED
    assert len(twilio.calls_to(LANDLINE)) == 3


def _hours_excluding(moment: dt.datetime) -> tuple[str, str]:
    """Calling hours an hour long that `moment` (local) is not in."""
    return ("22:00", "23:00") if timezone.localtime(moment).hour < 12 else ("01:00", "02:00")


def test_no_call_outside_the_calling_hours(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    now: dt.datetime,
) -> None:
    hours = _hours_excluding(timezone.now())
    worker.start(**voice_env(twilio, live_server, hours=hours))
    voice_city(world)
    reservation = book(world, landline_ticket(world), now)
    message = only(OutboundMessage.objects.filter(reservation=reservation, channel=Channel.VOICE))
    wait_for(lambda: reload(message).not_before is not None)
    deferred = reload(message)
    assert deferred.not_before is not None
    opening = timezone.localtime(deferred.not_before)
    assert opening.time() == dt.time.fromisoformat(hours[0])
    assert dt.timedelta(0) < deferred.not_before - timezone.now() < dt.timedelta(days=1)
    assert deferred.status == Status.QUEUED and deferred.attempts == 0
    sweep_task.delay()
    time.sleep(2)
    assert twilio.calls == [] and not VoiceCall.objects.exists()

    # The hours come: the worker restarted inside them, the message's time reached, and long
    # enough since it was handed over for the sweep to hand it over again.
    worker.stop()
    worker.start(**voice_env(twilio, live_server), NOTIFY_REENQUEUE_AFTER_SECONDS="1")
    OutboundMessage.objects.filter(pk=message.pk).update(not_before=timezone.now())
    time.sleep(1.1)
    sweep_task.delay()
    assert settled(worker, twilio, message).status == Status.DELIVERED
    assert len(twilio.calls) == 1


RESIDENTS = 200
LINES = 5


def test_200_queued_calls_never_use_more_than_the_lines(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    now: dt.datetime,
    settings: Any,
) -> None:
    settings.VOICE_MAX_CONCURRENT_CALLS = LINES
    voice_city(world)
    world.slot(dt.date(2026, 11, 10), 10, capacity=RESIDENTS)
    numbers = [f"+8198700{n:04d}" for n in range(RESIDENTS)]
    for number in numbers:
        book(world, landline_ticket(world, number), now)
    worker.start(**voice_env(twilio, live_server, lines=LINES))
    messages = OutboundMessage.objects.filter(channel=Channel.VOICE)
    try:
        wait_for(lambda: messages.filter(status=Status.DELIVERED).count() == RESIDENTS, timeout=300)
    except AssertionError:
        counts = list(messages.values_list("status", "last_error"))
        raise AssertionError(
            f"{counts[:10]}\n{worker.log.read_text(errors='replace')[-3000:]}"
        ) from None
    assert twilio.wait_idle(15)
    assert twilio.max_in_progress <= LINES
    assert sorted(call.to for call in twilio.calls) == numbers  # each called once
    assert VoiceCall.objects.count() == RESIDENTS
    assert set(VoiceCall.objects.values_list("attempt", flat=True)) == {1}
    assert set(VoiceCall.objects.values_list("line", flat=True)) == {None}
    assert [error for call in twilio.calls for error in call.errors] == []


def test_a_forged_callback_is_refused_and_changes_nothing(
    world: World,
    worker: Worker,  # noqa: F811
    twilio: TwilioVoiceStandIn,
    live_server: Any,
    now: dt.datetime,
) -> None:
    twilio.answer_seconds = 4  # it rings while the forger posts
    worker.start(**voice_env(twilio, live_server))
    voice_city(world)
    reservation = book(world, landline_ticket(world), now)
    message = only(OutboundMessage.objects.filter(reservation=reservation, channel=Channel.VOICE))
    call = only(VoiceCall.objects.exclude(provider_call_id=""))
    status_url = f"{live_server.url}{reverse('voice:status', args=[call.pk])}"
    keys_url = f"{live_server.url}{reverse('voice:keys', args=[call.pk, 'menu'])}"
    ended = {"CallSid": call.provider_call_id, "CallStatus": "busy", "CallDuration": "0"}
    pressed = {"CallSid": call.provider_call_id, "Digits": "2"}
    refused = [
        twilio.unsigned_post(status_url, ended),
        twilio.signed_post(status_url, ended, auth_token="not-our-token"),
        twilio.signed_post(keys_url, pressed, auth_token="not-our-token"),
    ]
    assert [exchange.status for exchange in refused] == [403] * 3
    call.refresh_from_db()
    assert call.is_open and call.line is not None and not call.keys.exists()
    assert reload(message).status == Status.SENT
    # The real call goes on and ends as the provider says.
    assert settled(worker, twilio, message).status == Status.DELIVERED
    assert OutboundMessage.objects.filter(channel=Channel.CALL_LIST).count() == 0
