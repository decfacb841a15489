"""Twilio through the official `twilio` package. TWILIO_API_BASE_URL points it elsewhere (tests)."""

from __future__ import annotations

import datetime as dt
import os
import threading

from django.conf import settings
from django.utils import timezone
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
)
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from channels.sms.backends.base import (
    AmbiguousSmsError,
    OutboundSms,
    PermanentSmsError,
    SmsBackend,
    TransientSmsError,
)

# How far back an earlier attempt of the same message is looked for.
_LOOKBACK = dt.timedelta(days=2)

_local = threading.local()


def _forget_clients() -> None:
    # A forked child (Celery's prefork pool) must not share its parent's sockets.
    _local.__dict__.pop("clients", None)


os.register_at_fork(after_in_child=_forget_clients)


def _client(account_sid: str, auth_token: str, timeout: float, base_url: str) -> Client:
    """One Twilio client per thread and configuration, kept for the life of the process: its
    HTTP client holds a keep-alive session, so messages after the first reuse the connection
    (and its TLS handshake). A session is not safe to share between threads."""
    clients: dict[tuple[str, str, float, str], Client] = _local.__dict__.setdefault("clients", {})
    key = (account_sid, auth_token, timeout, base_url)
    if key not in clients:
        http_client = TwilioHttpClient(pool_connections=True, timeout=timeout)
        client = Client(account_sid, auth_token, http_client=http_client)
        if base_url:
            client.api.base_url = base_url.rstrip("/")
        clients[key] = client
    return clients[key]


class TwilioBackend(SmsBackend):
    name = "twilio"

    def __init__(self) -> None:
        self.client = _client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.SMS_HTTP_READ_TIMEOUT,
            settings.TWILIO_API_BASE_URL,
        )

    def send(self, sms: OutboundSms) -> str:
        options: dict[str, str] = {"to": sms.to_e164, "body": sms.body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = settings.TWILIO_FROM_NUMBER
        if settings.TWILIO_STATUS_CALLBACK_URL:
            options["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as error:
            if error.status == 429 or error.status == 503:
                raise TransientSmsError(f"Twilio {error.status}: {error.msg}") from error
            if error.status >= 500:
                raise AmbiguousSmsError(f"Twilio {error.status}: {error.msg}") from error
            # 400 with 21211 (invalid number), 21614 (not a mobile number), 21610 (opted out)…
            raise PermanentSmsError(f"Twilio {error.code}: {error.msg}") from error
        except TwilioException as error:
            raise AmbiguousSmsError(f"Twilio: {error}") from error
        except OSError as error:
            raise AmbiguousSmsError(f"Twilio connection: {error}") from error
        return str(message.sid)

    def find_sent(self, sms: OutboundSms) -> str | None:
        # Twilio keeps no client reference: an earlier attempt is the same body to the same
        # number within the last two days.
        try:
            earlier = self.client.messages.list(
                to=sms.to_e164, date_sent_after=timezone.now() - _LOOKBACK, limit=50
            )
        except (TwilioException, OSError) as error:
            raise TransientSmsError(f"Twilio status check failed: {error}") from error
        for message in earlier:
            if message.body == sms.body:
                return str(message.sid)
        return None
