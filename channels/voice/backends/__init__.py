"""Voice backends, chosen by VOICE_BACKEND like the SMS backends.

Short names: console, twilio; anything else is a dotted path to a `VoiceBackend` subclass.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from channels.voice.backends.base import (
    AmbiguousVoiceError,
    CallStatus,
    OutboundCall,
    PermanentVoiceError,
    TransientVoiceError,
    VoiceBackend,
    VoiceError,
)

SHORT_NAMES = {
    "console": "channels.voice.backends.console.ConsoleBackend",
    "twilio": "channels.voice.backends.twilio.TwilioVoiceBackend",
}

__all__ = [
    "AmbiguousVoiceError",
    "CallStatus",
    "OutboundCall",
    "PermanentVoiceError",
    "TransientVoiceError",
    "VoiceBackend",
    "VoiceError",
    "backend_path",
    "get_backend",
    "voice_available",
]


def backend_path(name: str | None = None) -> str:
    name = name or settings.VOICE_BACKEND
    return SHORT_NAMES.get(name, name)


def get_backend(name: str | None = None) -> VoiceBackend:
    backend_class = import_string(backend_path(name))
    if not (isinstance(backend_class, type) and issubclass(backend_class, VoiceBackend)):
        raise TypeError(f"{backend_path(name)} is not a VoiceBackend")
    return backend_class()


def voice_available() -> bool:
    """Whether a call placed now reaches anyone: a provider is configured, or the console
    backend with the simulator on (VOICE_SIMULATOR) where staff answer its calls. Routing
    sends residents to calls only then; otherwise they stay on the operators' call list."""
    if backend_path() == SHORT_NAMES["console"]:
        return bool(settings.VOICE_SIMULATOR)
    return True
