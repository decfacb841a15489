"""Twilio Programmable Voice through the official `twilio` package (the account and
TWILIO_API_BASE_URL are the SMS settings')."""

from __future__ import annotations

import datetime as dt
import os
import threading

from django.conf import settings
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
)
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from channels.voice.backends.base import (
    AmbiguousVoiceError,
    CallStatus,
    OutboundCall,
    PermanentVoiceError,
    TransientVoiceError,
    VoiceBackend,
)

# An earlier attempt whose answer was lost is looked for this far before it was placed.
_LOOKBACK = dt.timedelta(minutes=5)

# One client per thread and configuration, kept for the life of the process (its session keeps
# the connection alive; a session is not safe to share between threads, nor across a fork).
# Not the SMS backend's cache: a channel never imports another.
_local = threading.local()
os.register_at_fork(after_in_child=lambda: _local.__dict__.pop("clients", None))


def _client() -> Client:
    key = (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.SMS_HTTP_READ_TIMEOUT,
        settings.TWILIO_API_BASE_URL,
    )
    clients: dict[tuple[str, str, float, str], Client] = _local.__dict__.setdefault("clients", {})
    if key not in clients:
        http_client = TwilioHttpClient(pool_connections=True, timeout=key[2])
        clients[key] = Client(key[0], key[1], http_client=http_client)
        if key[3]:
            clients[key].api.base_url = key[3].rstrip("/")
    return clients[key]


class TwilioVoiceBackend(VoiceBackend):
    name = "twilio"

    def __init__(self) -> None:
        self.client = _client()

    def place(self, call: OutboundCall) -> str:
        try:
            placed = self.client.calls.create(
                to=call.to_e164,
                from_=settings.VOICE_FROM_NUMBER,
                url=call.answer_url,
                method="POST",
                status_callback=call.status_url,
                status_callback_method="POST",
                status_callback_event=["completed"],
                # Synchronous detection that waits for a machine's greeting to end, so the
                # short message left on it is heard whole.
                machine_detection="DetectMessageEnd",
                timeout=call.ring_seconds,
                time_limit=call.max_seconds,
            )
        except TwilioRestException as error:
            if error.status in (429, 503):
                raise TransientVoiceError(f"Twilio {error.status}: {error.msg}") from error
            if error.status >= 500:
                raise AmbiguousVoiceError(f"Twilio {error.status}: {error.msg}") from error
            # 400 with 21211 (invalid number), 21215 (geo permissions), 13227 (no route)…
            raise PermanentVoiceError(f"Twilio {error.code}: {error.msg}") from error
        except TwilioException as error:
            raise AmbiguousVoiceError(f"Twilio: {error}") from error
        except OSError as error:
            raise AmbiguousVoiceError(f"Twilio connection: {error}") from error
        return str(placed.sid)

    def find_placed(self, call: OutboundCall) -> str | None:
        # Twilio keeps no client reference for calls, and its list does not show the answer
        # address: an earlier attempt is a call to the same number placed around the same time.
        try:
            earlier = self.client.calls.list(
                to=call.to_e164, start_time_after=call.placed_at - _LOOKBACK, limit=50
            )
        except (TwilioException, OSError) as error:
            raise TransientVoiceError(f"Twilio call look-up failed: {error}") from error
        for placed in earlier:
            if _same_attempt(placed, call):
                return str(placed.sid)
        return None

    def status(self, provider_call_id: str) -> CallStatus | None:
        try:
            placed = self.client.calls(provider_call_id).fetch()
        except TwilioRestException as error:
            if error.status == 404:
                return None
            raise TransientVoiceError(f"Twilio {error.status}: {error.msg}") from error
        except (TwilioException, OSError) as error:
            raise TransientVoiceError(f"Twilio: {error}") from error
        return CallStatus(
            str(placed.status),
            int(placed.duration or 0),
            str(getattr(placed, "answered_by", "") or ""),
        )

    def signing_key(self) -> str:
        return str(settings.TWILIO_AUTH_TOKEN)


def _same_attempt(placed: object, call: OutboundCall) -> bool:
    # The Calls list gives no answer URL; a call to this number placed within a minute of
    # this attempt's own placing is taken to be it (attempts are minutes apart at least).
    started = getattr(placed, "date_created", None) or getattr(placed, "start_time", None)
    if not isinstance(started, dt.datetime):
        return False
    return abs(started - call.placed_at) <= dt.timedelta(minutes=1)
