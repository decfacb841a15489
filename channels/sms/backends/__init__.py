"""SMS backends, chosen by SMS_BACKEND like Django's EMAIL_BACKEND.

Short names: console, file, locmem, http, twilio; anything else is a dotted path to a
`SmsBackend` subclass.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from channels.sms.backends.base import (
    AmbiguousSmsError,
    OutboundSms,
    PermanentSmsError,
    SmsBackend,
    SmsError,
    TransientSmsError,
)

SHORT_NAMES = {
    "console": "channels.sms.backends.local.ConsoleBackend",
    "file": "channels.sms.backends.local.FileBackend",
    "locmem": "channels.sms.backends.local.LocmemBackend",
    "http": "channels.sms.backends.http.HttpGatewayBackend",
    "twilio": "channels.sms.backends.twilio.TwilioBackend",
}

__all__ = [
    "AmbiguousSmsError",
    "OutboundSms",
    "PermanentSmsError",
    "SmsBackend",
    "SmsError",
    "TransientSmsError",
    "backend_path",
    "get_backend",
]


def backend_path(name: str | None = None) -> str:
    name = name or settings.SMS_BACKEND
    return SHORT_NAMES.get(name, name)


def get_backend(name: str | None = None) -> SmsBackend:
    backend_class = import_string(backend_path(name))
    if not (isinstance(backend_class, type) and issubclass(backend_class, SmsBackend)):
        raise TypeError(f"{backend_path(name)} is not an SmsBackend")
    return backend_class()
