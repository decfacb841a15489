"""Notify's side of automated calls (channels/voice): which flow a message's call plays, when a
call may be placed, when a queued call should not be placed any more, and what follows the
end of each call (`voice_call_finished`, connected to channels.voice.signals.call_finished).

A VOICE message is `sent` once its call is placed; it is finished by the call's end, not by a
receipt: answered (by the person or their answering machine) is delivered; busy or no answer
is called again later, with a growing wait, within the calling hours, until VOICE_MAX_ATTEMPTS
calls have rung, and then goes to the operators' call list; a call the provider could not
complete goes there at once.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.utils import timezone

from channels.notify.models import OutboundMessage
from channels.notify.routing import calls_reach
from channels.voice.hours import calling_hours_open, next_calling_start
from channels.voice.models import VoiceCall

Message = OutboundMessage
Status = OutboundMessage.Status
Purpose = OutboundMessage.Purpose
Result = VoiceCall.Result

# The flows channels.notify.voice_flows registers, by the purpose of the message a call is for.
# The doctor's verdict on a follow-up photo never goes by voice (it asks for a new photo, which
# a telephone cannot send): follow-up routing sends it to the call list.
REMINDER_FLOW = "reminder"
DAY_CANCELLED_FLOW = "day_cancelled"
NOTICE_FLOW = "notice"
FOLLOWUP_FLOW = "followup"
FLOW_BY_PURPOSE: dict[str, str] = {
    Purpose.REMINDER: REMINDER_FLOW,
    Purpose.DAY_CANCELLED: DAY_CANCELLED_FLOW,
    Purpose.CONFIRMATION: NOTICE_FLOW,
    Purpose.CHANGE: NOTICE_FLOW,
    Purpose.CANCELLATION: NOTICE_FLOW,
    Purpose.FOLLOWUP_INVITATION: FOLLOWUP_FLOW,
    Purpose.FOLLOWUP_REMINDER: FOLLOWUP_FLOW,
}

# Why a queued VOICE message is not called any more (delivery._stop_reason).
VOICE_OFF = "voice_off"
VOICE_NO_PHONE = "voice_no_phone"


def voice_flow_for_purpose(purpose: str) -> str | None:
    """The flow that tells a message of this purpose, or None when a call cannot."""
    return FLOW_BY_PURPOSE.get(purpose)


def voice_flow_for(message: OutboundMessage) -> str | None:
    """The name of the flow a call for this message plays; None when no call can tell it."""
    return voice_flow_for_purpose(message.purpose)


def voice_municipality_id(message: OutboundMessage) -> int | None:
    """The municipality a message's call is made for (and counted against on the dashboard)."""
    if message.followup_id is not None:
        assert message.followup is not None
        return message.followup.person.municipality_id
    if message.resident is not None:
        return message.resident.municipality_id
    return None


def voice_phone_now(message: OutboundMessage) -> str:
    """The number the message's person has now: the follow-up's person's, or the resident's."""
    if message.followup_id is not None:
        assert message.followup is not None
        return message.followup.person.phone
    assert message.resident is not None
    return message.resident.phone


def voice_stop_reason(message: OutboundMessage) -> str | None:
    """Why a VOICE message not yet placed should not be called any more: the municipality
    turned calls off (or they reach nobody: no provider), or the person has no number left."""
    if message.followup_id is not None:
        assert message.followup is not None
        municipality = message.followup.person.municipality
    else:
        assert message.resident is not None
        municipality = message.resident.municipality
    if not calls_reach(municipality):
        return VOICE_OFF
    if not voice_phone_now(message):
        return VOICE_NO_PHONE
    return None


def calling_hours_wait(now: dt.datetime) -> dt.datetime | None:
    """When a call wanted at `now` may be placed, if not now (channels.voice.hours). The quiet
    hours of the other channels do not apply to calls; the calling hours do, to every call,
    an urgent broadcast's too."""
    return None if calling_hours_open(now) else next_calling_start(now)


# --- The end of a call -----------------------------------------------------------------------


def voice_message_for(call: VoiceCall) -> OutboundMessage | None:
    """The VOICE message a call was placed for (its reference is the message's retry key), or
    None for a call that is not notify's."""
    try:
        retry_key = uuid.UUID(call.reference)
    except ValueError:
        return None
    return (
        # What the flows say reads these (the booking, the site, the questionnaire).
        OutboundMessage.objects.select_related(
            "reservation__slot__operating_day__site",
            "reservation__vaccine",
            "resident__municipality",
            "followup__person__municipality",
            "followup__questionnaire",
        )
        .filter(retry_key=retry_key, channel=Message.Channel.VOICE)
        .first()
    )


def _calls_rung(reference: str) -> int:
    """Calls of this message the provider placed (a placing refused before any ring, already
    handled by the delivery that tried it, is not one)."""
    return VoiceCall.objects.filter(reference=reference).exclude(provider_call_id="").count()


def voice_retry_at(calls: int, now: dt.datetime) -> dt.datetime:
    """When to call again after `calls` unanswered calls: VOICE_RETRY_BACKOFF_SECONDS, doubled
    for each further call, moved into the calling hours."""
    wait = settings.VOICE_RETRY_BACKOFF_SECONDS * 2 ** max(0, calls - 1)
    return next_calling_start(now + dt.timedelta(seconds=wait))


def _after(call: VoiceCall, now: dt.datetime) -> dict[str, object] | None:
    """The message's changes that follow this end of a call (None: not an end)."""
    placed = {"provider": call.provider, "provider_message_id": call.provider_call_id}
    if call.result in (Result.ANSWERED, Result.MACHINE):
        return {**placed, "status": Status.DELIVERED, "final_at": now, "last_error": ""}
    if call.result in VoiceCall.RETRY_RESULTS:
        calls = _calls_rung(call.reference)
        if calls < settings.VOICE_MAX_ATTEMPTS:
            # Back to the queue, not to the broker: the sweep hands it over once
            # `not_before` has come (a wait of hours as a broker ETA would be redelivered in
            # a loop).
            return {
                "status": Status.QUEUED,
                "not_before": voice_retry_at(calls, now),
                "enqueued_at": None,
                "provider": "",
                "provider_message_id": "",
                "last_error": f"voice: {call.result}",
            }
        return {
            **placed,
            "status": Status.UNDELIVERABLE,
            "final_at": now,
            "last_error": f"voice: {call.result} ({calls} calls)",
        }
    if call.result == Result.FAILED:
        return {
            **placed,
            "status": Status.FAILED,
            "final_at": now,
            "last_error": f"voice: failed {call.last_error}"[:500],
        }
    return None


# A message changes state a few times at most while its call ends (sending → sent by the
# delivery that placed it): the compare-and-set is tried again on what it finds, this often.
_WRITE_TRIES = 4


def voice_call_finished(*, call: VoiceCall) -> str | None:
    """What follows the end of `call` for its message (channels.voice.signals.call_finished,
    sent inside the transaction that records the end). Returns the message's new status, or
    None when this call changes nothing.

    The write is a compare-and-set on the status and attempt read. The call can end before
    the delivery that placed it has recorded it (`sending` → `sent`): a write that loses to
    that one reads the message again and is made on what it finds; once the message has moved
    past the call (finished, queued again), it changes nothing, so running this twice does
    nothing more."""
    if not call.provider_call_id:
        # Never placed (the provider refused it, or a lost attempt was found not placed): the
        # delivery that tried it decides what follows.
        return None
    if VoiceCall.objects.filter(reference=call.reference, attempt__gt=call.attempt).exists():
        return None  # a later call of the same message is the one that counts
    now = call.ended_at or timezone.now()
    changes = _after(call, now)
    if changes is None:
        return None
    for _try in range(_WRITE_TRIES):
        message = voice_message_for(call)
        if message is None or message.status not in (Status.SENDING, Status.UNKNOWN, Status.SENT):
            return None
        sent_at = {"sent_at": message.sent_at or call.placed_at}
        if OutboundMessage.objects.filter(
            pk=message.pk, status=message.status, attempt_started_at=message.attempt_started_at
        ).update(**changes, **sent_at, updated_at=timezone.now()):
            break
    else:
        return None
    if changes["status"] in (Status.UNDELIVERABLE, Status.FAILED):
        # The delivery module imports this one (the flows, the stop reasons): imported here.
        from channels.notify.delivery import _call_list_fallback

        _call_list_fallback(message, Message.CallReason.VOICE_NOT_REACHED)
    return str(changes["status"])
