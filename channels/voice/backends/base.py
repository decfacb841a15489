"""The interface every voice backend implements, and the errors it may raise.

`place` either returns the provider's call id (the call is placed) or raises:

- `PermanentVoiceError`: this number can never be called (invalid, blocked). Never retried.
- `TransientVoiceError`: surely not placed (429, 503, connection refused). Try later.
- `AmbiguousVoiceError`: the call may have been placed (timeout, 500): `find_placed` must say
  it was not before the number is dialled again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class OutboundCall:
    """One call to place. The provider fetches `answer_url` when the call is answered (its
    TwiML says what to say) and posts the call's end to `status_url`."""

    reference: str
    to_e164: str
    answer_url: str
    status_url: str
    ring_seconds: int
    max_seconds: int
    placed_at: dt.datetime


@dataclass(frozen=True)
class CallStatus:
    """What the provider says of a call now: its status in Twilio's words (queued, ringing,
    in-progress, completed, busy, no-answer, failed, canceled) and its length."""

    status: str
    duration_seconds: int = 0
    answered_by: str = ""


class VoiceError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentVoiceError(VoiceError):
    pass


class TransientVoiceError(VoiceError):
    pass


class AmbiguousVoiceError(TransientVoiceError):
    pass


class VoiceBackend:
    """Base class. `name` is the provider as lines and call records name it."""

    name = "base"

    def place(self, call: OutboundCall) -> str:
        raise NotImplementedError

    def find_placed(self, call: OutboundCall) -> str | None:
        """The provider's id of a call placed for this attempt, or None if surely none was.
        Raise TransientVoiceError when the provider cannot tell now."""
        raise NotImplementedError

    def status(self, provider_call_id: str) -> CallStatus | None:
        """The call's status at the provider (a status callback was lost), None if unknown."""
        raise NotImplementedError

    def signing_key(self) -> str:
        """The key the provider signs its webhooks with (X-Twilio-Signature)."""
        raise NotImplementedError
