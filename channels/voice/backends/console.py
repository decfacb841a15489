"""The embedded default: nothing is dialled. The call is written to standard output and rings
until a member of staff answers it in the simulator (/voice/simulator/), which plays it through
the same signed webhooks a provider would call; a call nobody answers is "no answer" after
VOICE_RING_SECONDS."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sys

from django.conf import settings
from django.utils import timezone

from channels.voice.backends.base import CallStatus, OutboundCall, VoiceBackend


class ConsoleBackend(VoiceBackend):
    name = "console"

    def place(self, call: OutboundCall) -> str:
        sys.stdout.write(
            f"--- voice call to {call.to_e164} ({call.reference}): answer it at /voice/simulator/\n"
        )
        sys.stdout.flush()
        return f"console-{call.reference}-{int(call.placed_at.timestamp() * 1000)}"

    def find_placed(self, call: OutboundCall) -> str | None:
        # Nothing was dialled, so nothing can have been placed twice.
        return None

    def status(self, provider_call_id: str) -> CallStatus | None:
        from channels.voice.models import VoiceCall

        call = VoiceCall.objects.filter(
            provider=self.name, provider_call_id=provider_call_id
        ).first()
        if call is None:
            return None
        if call.answered_at is None:
            rang_until = call.placed_at + dt.timedelta(seconds=settings.VOICE_RING_SECONDS)
            return CallStatus("no-answer") if timezone.now() > rang_until else CallStatus("ringing")
        # Answered in the simulator and never hung up there (the page was closed).
        return CallStatus("completed", int((timezone.now() - call.answered_at).total_seconds()))

    def signing_key(self) -> str:
        # The simulator signs like Twilio, with a key only this deployment knows.
        return hmac.new(settings.SECRET_KEY.encode(), b"voice-console", hashlib.sha256).hexdigest()
