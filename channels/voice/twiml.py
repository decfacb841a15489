"""A flow's prompt as TwiML, the provider's language for "say this, then wait for keys"."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from twilio.twiml.voice_response import Gather, Say, VoiceResponse  # type: ignore[import-untyped]

from channels.voice.flows import Prompt
from channels.voice.models import VoiceCall

# Text-to-speech for English (the Japanese voice reads English badly).
ENGLISH_VOICE = "Polly.Joanna"


def _say(parent: VoiceResponse | Gather, text: str, language: str) -> None:
    english = language == "en"
    say: Say = parent.say(
        language="en-US" if english else "ja-JP",
        voice=ENGLISH_VOICE if english else settings.VOICE_TTS_VOICE,
    )
    # Slowly: most of the people called are elderly.
    say.prosody(text, rate=settings.VOICE_SPEECH_RATE)


def prompt_twiml(call: VoiceCall, prompt: Prompt) -> str:
    """Texts said (twice, with a pause between, when `repeat`), inside a <Gather> when the
    prompt asks for keys so that a key pressed while it talks is taken at once; then either
    the goodbye and the end of the call (no keys came), or the end."""
    response = VoiceResponse()
    target: VoiceResponse | Gather = response
    if prompt.ask is not None:
        ask = prompt.ask
        options: dict[str, object] = {
            "input": "dtmf",
            "action": f"{settings.VOICE_CALLBACK_BASE_URL}"
            f"{reverse('voice:keys', args=[call.pk, ask.step])}",
            "method": "POST",
            "timeout": ask.timeout_seconds,
        }
        if ask.num_digits is not None:
            options["num_digits"] = ask.num_digits
        if ask.finish_on_key:
            options["finish_on_key"] = ask.finish_on_key
        target = response.gather(**options)
    for round_ in range(2 if prompt.repeat else 1):
        if round_:
            target.pause(length=1)
        for text in prompt.texts:
            _say(target, text, call.language)
    for text in prompt.goodbye:
        _say(response, text, call.language)
    response.hangup()
    return str(response)
