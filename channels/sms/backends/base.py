"""The interface every SMS backend implements, and the errors it may raise.

`send` either returns the provider's message id (accepted) or raises one of three errors, which
tell the delivery task what it may do next:

- `PermanentSmsError`: the provider refused this message for good (invalid number, body
  rejected). Never retried.
- `TransientSmsError`: surely not accepted (429, 503, connection refused). Retry later, after
  `retry_after` seconds if the provider said so.
- `AmbiguousSmsError`: the request may have been accepted (timeout after sending, 500, reset).
  The message must not be sent again before `find_sent` has said it was not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutboundSms:
    """One SMS to send. `reference` is our idempotency key (the message's retry key)."""

    reference: str
    to_e164: str
    body: str


class SmsError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSmsError(SmsError):
    pass


class TransientSmsError(SmsError):
    pass


class AmbiguousSmsError(TransientSmsError):
    pass


class SmsBackend:
    """Base class. `name` is what delivery receipts and the rate limiter call this provider."""

    name = "base"

    def send(self, sms: OutboundSms) -> str:
        raise NotImplementedError

    def find_sent(self, sms: OutboundSms) -> str | None:
        """The provider id of an earlier accepted attempt of this message, or None if the
        provider surely has none. Raise TransientSmsError when the provider cannot tell now."""
        raise NotImplementedError
