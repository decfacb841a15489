"""Delivery per channel. A channel that sends (SMS, LINE, voice) registers one transport in
`TRANSPORTS`; the delivery service does the rest (claiming, status checks, retries, receipts).

The call list is not a transport: its messages wait for an operator to phone the resident.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils import translation
from linebot.v3.messaging import Message, TextMessage

from channels.line.notices import notice_message
from channels.line.outbound import LinePushRejected, LinePushRetryable, line_push
from channels.notify.models import OutboundMessage
from channels.notify.voice import voice_flow_for, voice_municipality_id
from channels.sms import backends as sms
from channels.sms.ratelimit import take_tokens
from channels.voice import backends as voice
from channels.voice.selectors import lines_in_use
from channels.voice.services import (
    AlreadyPlaced,
    CallRequest,
    LinesBusy,
    call_find_previous,
    call_place,
)

# A throttled send waits this long in the worker at most; longer waits go back to the queue.
MAX_INLINE_WAIT_SECONDS = 1.0
# The provider of a LINE notice the chat itself gave (the answer to a booking made in the
# chat): recorded as sent, never pushed.
LINE_CHAT_PROVIDER = "line_chat"
# The provider of a notice the automated call itself gave (a cancellation made by pressing
# 2, 2 on the call): recorded as sent, never called, texted or pushed again.
VOICE_CALL_PROVIDER = "voice_call"
# With every line in a call, a worker looks again every VOICE_LINES_POLL_SECONDS for up to
# MAX_INLINE_WAIT_SECONDS, then the batch goes back to the queue for VOICE_LINES_WAIT_SECONDS.
VOICE_LINES_POLL_SECONDS = 0.05
VOICE_LINES_WAIT_SECONDS = 1.0


class DeliveryError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Will never work (invalid number, blocked user): give the message to the phone list."""


class TransientDeliveryError(DeliveryError):
    """Surely not accepted; try again later."""


class AmbiguousDeliveryError(TransientDeliveryError):
    """May have been accepted: check with the provider before any new attempt."""


class NotAttempted(TransientDeliveryError):
    """Nothing was tried (every line was taken between our look and our call): the message
    goes back to the queue untried, its attempt not counted."""


class Throttled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit: wait {wait:.2f}s")
        self.wait = wait


@dataclass(frozen=True)
class Accepted:
    provider: str
    provider_message_id: str


class Transport(Protocol):
    def provider(self) -> str: ...

    def send(self, message: OutboundMessage) -> Accepted: ...

    def find_previous(self, message: OutboundMessage) -> Accepted | None: ...

    def take_capacity(self, message: OutboundMessage, count: int = 1) -> int:
        """Return when the provider's shared rate limit allows more sends: how many of the
        `count` wanted (at least one) may go now, like `message`, through the same provider.
        Raise Throttled if the first one is more than a moment away."""


class SmsTransport:
    def _backend(self) -> sms.SmsBackend:
        return sms.get_backend()

    def provider(self) -> str:
        return self._backend().name

    @staticmethod
    def _outbound(message: OutboundMessage) -> sms.OutboundSms:
        return sms.OutboundSms(
            reference=str(message.retry_key), to_e164=message.address, body=message.body
        )

    def take_capacity(self, message: OutboundMessage, count: int = 1) -> int:
        provider = self.provider()
        deadline = time.monotonic() + MAX_INLINE_WAIT_SECONDS
        while True:
            taken, wait = take_tokens(provider, count)
            if taken:
                return taken
            if time.monotonic() + wait > deadline:
                raise Throttled(wait)
            time.sleep(wait)

    def send(self, message: OutboundMessage) -> Accepted:
        backend = self._backend()
        try:
            provider_id = backend.send(self._outbound(message))
        except sms.PermanentSmsError as error:
            raise PermanentDeliveryError(str(error)) from error
        except sms.AmbiguousSmsError as error:
            raise AmbiguousDeliveryError(str(error), retry_after=error.retry_after) from error
        except sms.TransientSmsError as error:
            raise TransientDeliveryError(str(error), retry_after=error.retry_after) from error
        return Accepted(backend.name, provider_id)

    def find_previous(self, message: OutboundMessage) -> Accepted | None:
        backend = self._backend()
        try:
            provider_id = backend.find_sent(self._outbound(message))
        except sms.SmsError as error:
            raise TransientDeliveryError(str(error), retry_after=error.retry_after) from error
        return Accepted(backend.name, provider_id) if provider_id else None


class LineTransport:
    """Pushes through the city's LINE account with X-Line-Retry-Key = the message's retry key.

    LINE accepts a retry key once and answers 409 (counted as sent) to any repeat, so sending
    again after a lost answer cannot deliver twice: there is nothing to look up first.

    What is pushed is the booking's card (channels.line.notices), drawn now from the booking
    in the message's language; the stored body is its one-line alt text."""

    def provider(self) -> str:
        return "line"

    def take_capacity(self, message: OutboundMessage, count: int = 1) -> int:
        # LINE's push limit (2,000 requests/s per channel) is far above what a municipality
        # sends; a 429 comes back as a transient failure with its Retry-After.
        return count

    def send(self, message: OutboundMessage) -> Accepted:
        try:
            if message.reservation is None:
                # A follow-up's message: its text, with the personal link LINE makes tappable.
                pushed: Message = TextMessage(text=message.body, quickReply=None, quoteToken=None)
            else:
                with translation.override(message.language):
                    pushed = notice_message(message.reservation, message.purpose)
            line_push(
                to=message.address,
                messages=[pushed],
                retry_key=str(message.retry_key),
                # Through the official account this resident is linked in (their city's).
                resident_id=message.resident_id,
            )
        except LinePushRejected as error:
            raise PermanentDeliveryError(str(error)) from error
        except LinePushRetryable as error:
            raise TransientDeliveryError(str(error), retry_after=error.retry_after) from error
        # A push answers with no message id we could match receipts to; the key identifies it.
        return Accepted(self.provider(), str(message.retry_key))

    def find_previous(self, message: OutboundMessage) -> Accepted | None:
        return None


class VoiceTransport:
    """An automated call (channels.voice) with the message's retry key as its reference: the
    call plays the flow of the message's purpose (channels.notify.voice), and its end decides
    what follows (channels.notify.voice.voice_call_finished). `send` returning means the call
    was placed, not that anyone heard it.

    The provider's simultaneous-call limit is the voice channel's lines, shared by every
    worker: a message is sent only while a line is free."""

    def _backend(self) -> voice.VoiceBackend:
        return voice.get_backend()

    def provider(self) -> str:
        return self._backend().name

    def take_capacity(self, message: OutboundMessage, count: int = 1) -> int:
        # A look, not a reservation: a worker that loses the race for the last line is told
        # by call_place (LinesBusy), and its message goes back untried. With every line in
        # a call it looks again for a moment (a line frees as a call ends, often within the
        # second) before handing the batch back to the queue: lines left idle while messages
        # wait in the broker were most of the gap to direct calling (bench/voice_calls.py).
        provider = self.provider()
        deadline = time.monotonic() + MAX_INLINE_WAIT_SECONDS
        while True:
            free = settings.VOICE_MAX_CONCURRENT_CALLS - len(lines_in_use(provider))
            if free > 0:
                return min(count, free)
            if time.monotonic() + VOICE_LINES_POLL_SECONDS > deadline:
                raise Throttled(VOICE_LINES_WAIT_SECONDS)
            time.sleep(VOICE_LINES_POLL_SECONDS)

    @staticmethod
    def _request(message: OutboundMessage) -> CallRequest:
        flow = voice_flow_for(message)
        if flow is None:
            # Routing never sends such a message by voice; one that got here goes to the
            # call list rather than round the retries.
            raise PermanentDeliveryError(f"no voice flow for {message.purpose}")
        return CallRequest(
            reference=str(message.retry_key),
            flow=flow,
            to_e164=message.address,
            language=message.language,
            municipality_id=voice_municipality_id(message),
            resident_id=message.resident_id,
        )

    def send(self, message: OutboundMessage) -> Accepted:
        request = self._request(message)
        try:
            call = call_place(request=request)
        except LinesBusy as error:
            raise NotAttempted(
                f"every line in use ({error})", retry_after=VOICE_LINES_WAIT_SECONDS
            ) from error
        except AlreadyPlaced as error:
            # Another delivery placed this very attempt: ask before calling again.
            raise AmbiguousDeliveryError(f"call already placed ({error})") from error
        except voice.PermanentVoiceError as error:
            raise PermanentDeliveryError(str(error)) from error
        except voice.AmbiguousVoiceError as error:
            raise AmbiguousDeliveryError(str(error), retry_after=error.retry_after) from error
        except voice.TransientVoiceError as error:
            raise TransientDeliveryError(str(error), retry_after=error.retry_after) from error
        return Accepted(call.provider, call.provider_call_id)

    def find_previous(self, message: OutboundMessage) -> Accepted | None:
        try:
            call = call_find_previous(reference=str(message.retry_key))
        except voice.TransientVoiceError as error:
            raise TransientDeliveryError(str(error), retry_after=error.retry_after) from error
        # Only a call still open is the lost attempt's: one that has ended was an earlier
        # attempt, or its end has already moved the message on (voice_call_finished).
        if call is None or not call.is_open or not call.provider_call_id:
            return None
        return Accepted(call.provider, call.provider_call_id)


TRANSPORTS: dict[str, Transport] = {
    OutboundMessage.Channel.SMS: SmsTransport(),
    OutboundMessage.Channel.LINE: LineTransport(),
    OutboundMessage.Channel.VOICE: VoiceTransport(),
}
